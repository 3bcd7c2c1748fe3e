package tenants

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/portico-billing/portico/tenants/account"
)

// ErrUnreadableDocument is returned for a stored account document that cannot be read: a
// compressed value that is corrupt or would decompress to more than the document limit. It is
// never the client's fault (the store wrote the value), so callers answer 500.
var ErrUnreadableDocument = errors.New("tenants: stored account document cannot be read")

// docZstd is the first byte of an account document stored compressed; a zstd frame of the JSON
// follows. JSON text never starts with a byte below 0x09 (it starts with whitespace, '{' or
// another value), so documents stored as plain JSON before compression remain readable as they
// are: decodeDoc reads both, encodeDoc writes only the compressed form, and a document is
// compressed by its next write. Nothing migrates stored documents (see README, Storage).
const docZstd byte = 0x01

// maxDocBytes bounds what a stored document may decompress to: the API's document limit. A
// larger value is refused before it is decompressed (the frame states its size) or as soon as
// decompression passes the limit, never allocated in full.
const maxDocBytes = account.MaxDocumentSize

// docDicts are the zstd dictionaries of stored documents by id, and docDict the one new documents
// are compressed with. A frame names its dictionary by id (frames written before dictionaries have
// none), and the decoder knows every one of them, so a dictionary's bytes must never change once
// documents are stored with it (TestDocDictionariesUnchanged): a better one gets the next id.
//
// Dictionary 1 is raw content, the example account document as the store encodes it with every
// value emptied except enumerations ("per_unit", "paid") and dates: field names and their order,
// which every document repeats and a document alone compresses only once. It carries no data of
// any account (TestDocDictionaryCarriesNoData). The example document (7,776 bytes of JSON) is
// stored in 1,509 bytes with it, 2,015 without.
//
// The encoder runs at zstd's "better" level: for the example document 4 % smaller than the default
// level (1,565 bytes) at about the same cost (121 µs against 115 µs per document on the bench
// machine), which matters most in the account cache, where a document's bytes are rounded up to
// the allocator's size class: 1,536 bytes instead of 1,792, 11 % less heap per cached account
// (TestAccountCacheCompact: 2,034 bytes against 2,290). The "best" level would save 8 % more at
// 14 times the cost of every write (1.6 ms).
//
//go:embed docdict/1.json
var docDict1 []byte

const docDict = 1

// The shared encoder and decoder: EncodeAll and DecodeAll are safe for concurrent use. Both are
// made on first use, so that processes that never touch documents do not hold their tables.
var (
	docEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithLowerEncoderMem(true),
			zstd.WithWindowSize(maxDocBytes), zstd.WithEncoderDictRaw(docDict, docDict1))
		if err != nil {
			panic(fmt.Sprintf("tenants: creating the zstd encoder: %v", err)) // only for invalid options
		}
		return e
	})
	docDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDocBytes), zstd.WithDecoderMaxWindow(maxDocBytes),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderConcurrency(0), zstd.WithDecoderDictRaw(1, docDict1))
		if err != nil {
			panic(fmt.Sprintf("tenants: creating the zstd decoder: %v", err)) // only for invalid options
		}
		return d
	})
)

// encodeDoc returns the stored form of an account document's JSON: docZstd and a zstd frame (with
// its content size and checksum) with dictionary docDict.
func encodeDoc(doc []byte) []byte {
	out := make([]byte, 1, 1+len(doc)/3)
	out[0] = docZstd
	return docEncoder().EncodeAll(doc, out)
}

// decodeDoc appends the JSON of a stored account document to dst and returns it: the value
// decompressed when it starts with docZstd, else the value itself (a document stored before
// compression; dst is then not used and the value is returned as is, so callers must not modify
// the result). A corrupt or oversized compressed value is ErrUnreadableDocument.
func decodeDoc(dst, stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != docZstd {
		return stored, nil
	}
	if len(stored) == 1 { // DecodeAll reads no frames as no bytes
		return nil, fmt.Errorf("%w: no zstd frame after the prefix", ErrUnreadableDocument)
	}
	out, err := docDecoder().DecodeAll(stored[1:], dst)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, fmt.Errorf("%w: it decompresses to more than %d bytes", ErrUnreadableDocument, maxDocBytes)
		}
		return nil, fmt.Errorf("%w: decompressing: %v", ErrUnreadableDocument, err)
	}
	return out, nil
}

// unmarshalDoc decodes a stored account document into a.
func unmarshalDoc(stored []byte, a *account.Account) error {
	doc, err := decodeDoc(nil, stored)
	if err != nil {
		return err
	}
	return json.Unmarshal(doc, a)
}

// DocumentJSON returns the JSON of an account document as etcd stores it (under
// state/accounts/), for tools and tests that read etcd directly: stored documents are compressed
// (see decodeDoc). The result must not be modified.
func DocumentJSON(stored []byte) ([]byte, error) {
	return decodeDoc(nil, stored)
}
