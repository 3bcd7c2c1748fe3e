package storagetest_test

import (
	"testing"

	"github.com/caddyserver/certmagic"
	"github.com/portico-billing/portico/certs/storagetest"
)

// TestFileStorage runs the suite against certmagic's own FileStorage, to check the suite: what
// fails here is either a bug of the suite or a documented deviation of FileStorage.
func TestFileStorage(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) certmagic.Storage {
		return &certmagic.FileStorage{Path: t.TempDir()}
	},
		storagetest.RecursiveListIncludesDirectories, // filepath.Walk visits directories too
		storagetest.TryLockWaits,                     // TryLock polls twice, a second apart
		storagetest.LockPolls,                        // Lock polls the lock file once a second
		storagetest.NotADirectoryBelowValue,          // ENOTDIR from the file system is passed through
	)
}
