// Package testwait holds the one bound every test in Portico puts on waiting for a condition.
//
// Tests wait on the condition itself (a channel, a poll of observable state), never on a
// wall-clock window sized for a quiet machine: the suite runs on two cores beside its own parallel
// packages, under the race detector, and sometimes beside other work. Patience is the upper bound
// that only a real hang reaches.
package testwait

import "time"

// Patience is how long a test waits for something that should happen before it calls it a hang.
// Work that takes milliseconds on a quiet machine can take seconds on a loaded one; nothing that
// works takes minutes.
const Patience = 3 * time.Minute
