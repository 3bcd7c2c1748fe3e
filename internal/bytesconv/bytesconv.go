// Package bytesconv converts between string and []byte without copying, for the request hot path
// only: the results alias their input, so the input must not change while they are in use and a
// []byte made from a string must never be written to.
package bytesconv

import "unsafe"

// String returns b as a string without copying.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Bytes returns s as a read-only byte slice without copying.
func Bytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
