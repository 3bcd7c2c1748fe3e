package account

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// MaxAmount is the largest amount, in minor units, that Portico computes or accepts: the largest
// int64. Every product, sum and rounding of money in this package goes through the checked helpers
// below, so a document whose arithmetic would pass it is refused instead of wrapping around.
const MaxAmount = math.MaxInt64

// ErrOverflow is wrapped (together with ErrPricing or ErrInvalid) by every error that reports an
// amount that does not fit in MaxAmount.
var ErrOverflow = errors.New("account: amount overflows")

// overflowError names the computation that overflowed; it is both an ErrOverflow and an
// ErrPricing, so callers that only know pricing errors still recognise it.
type overflowError struct{ what string }

func (e *overflowError) Error() string {
	return fmt.Sprintf("%s: %s overflows (more than %d minor units)", ErrPricing, e.what, int64(MaxAmount))
}

func (e *overflowError) Is(target error) bool { return target == ErrOverflow || target == ErrPricing }

// overflow returns the error for a computation, described as "quantity × unitAmount".
func overflow(format string, args ...any) error {
	return &overflowError{what: fmt.Sprintf(format, args...)}
}

// mulAmounts returns a × b and whether the product fits in an int64.
func mulAmounts(a, b int64) (int64, bool) {
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	switch {
	case hi != 0:
		return 0, false
	case neg && lo > 1<<63:
		return 0, false
	case neg:
		return int64(-lo), true // two's complement: right for 1<<63 too
	case lo > math.MaxInt64:
		return 0, false
	}
	return int64(lo), true
}

// addAmounts returns a + b and whether the sum fits in an int64.
func addAmounts(a, b int64) (int64, bool) {
	s := a + b
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		return 0, false
	}
	return s, true
}

// subAmounts returns a − b and whether the difference fits in an int64.
func subAmounts(a, b int64) (int64, bool) {
	d := a - b
	if (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0) {
		return 0, false
	}
	return d, true
}

func abs64(v int64) uint64 {
	if v < 0 {
		return -uint64(v)
	}
	return uint64(v)
}

// roundHalfUp rounds a non-negative rational to the nearest integer, halves away from zero, and
// reports whether the result fits in an int64.
func roundHalfUp(r *big.Rat) (int64, bool) {
	num := new(big.Int).Mul(r.Num(), big.NewInt(2))
	num.Add(num, r.Denom())
	den := new(big.Int).Mul(r.Denom(), big.NewInt(2))
	q := new(big.Int).Quo(num, den)
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// RoundHalfUp rounds a non-negative rational number of minor units to a whole minor unit, halves
// up: Portico's one rounding rule for money (item and tier amounts, invoice tax, proration in
// package catalog). ok is false when r is negative or the result does not fit in an int64.
func RoundHalfUp(r *big.Rat) (amount int64, ok bool) {
	if r.Sign() < 0 {
		return 0, false
	}
	return roundHalfUp(r)
}
