// Package hist is a small log-linear histogram of non-negative integer values (latencies in
// nanoseconds), in the style of HdrHistogram: values below 2^(SubBits+1) are counted exactly, and every
// power-of-two range above is split into 2^SubBits equal buckets, so a recorded value is known to
// within 1/2^SubBits of itself (0.8 % with the 7 sub-bucket bits used here). Recording is a
// few shifts and an increment; a Histogram is not safe for concurrent use — keep one per goroutine
// and Merge them.
package hist

import (
	"math"
	"math/bits"
)

// SubBits is the number of bits of precision kept for every value.
const SubBits = 7

const (
	subCount   = 1 << SubBits
	numBuckets = (64-SubBits)*subCount + subCount // shift up to 64-SubBits-1, plus the exact range
)

// Histogram counts values in log-linear buckets. The zero value is ready to use.
type Histogram struct {
	counts   [numBuckets]uint64
	total    uint64
	min, max uint64
	sum      float64
}

// index is the bucket of v.
func index(v uint64) int {
	shift := bits.Len64(v) - SubBits - 1
	if shift < 0 {
		shift = 0
	}
	return shift<<SubBits + int(v>>uint(shift))
}

// bounds are the lowest and highest value of bucket i.
func bounds(i int) (lo, hi uint64) {
	if i < 2*subCount {
		return uint64(i), uint64(i)
	}
	shift := i>>SubBits - 1
	m := uint64(i - shift<<SubBits)
	lo = m << uint(shift)
	return lo, lo + (1 << uint(shift)) - 1
}

// Record counts one value.
func (h *Histogram) Record(v uint64) {
	h.counts[index(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Min and Max are the exact extremes (0 when empty).
func (h *Histogram) Min() uint64 { return h.min }

// Max is the largest recorded value (0 when empty).
func (h *Histogram) Max() uint64 { return h.max }

// Mean is the exact mean of the recorded values (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Quantile returns the value at quantile q (0 ≤ q ≤ 1): the highest value equivalent to the
// ceil(q·n)-th smallest recorded value (as HdrHistogram's ValueAtQuantile), clamped to the exact
// maximum. An empty histogram gives 0.
func (h *Histogram) Quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank == 0 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			_, hi := bounds(i)
			return min(hi, h.max)
		}
	}
	return h.max
}
