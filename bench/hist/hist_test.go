package hist

import (
	"math"
	"testing"
)

func TestIndexBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 257, 1000, 1 << 20, 123456789, math.MaxUint64 >> 1, math.MaxUint64} {
		lo, hi := bounds(index(v))
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d with bounds [%d, %d]", v, index(v), lo, hi)
		}
		if v >= subCount && float64(hi-lo) > float64(lo)/float64(subCount/2) {
			t.Errorf("bucket of %d is [%d, %d]: wider than 1/%d of its value", v, lo, hi, subCount/2)
		}
	}
	if n := index(math.MaxUint64); n >= numBuckets {
		t.Fatalf("index(MaxUint64) = %d, have %d buckets", n, numBuckets)
	}
}

func TestQuantiles(t *testing.T) {
	uniform := func(n uint64) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			v[i] = uint64(i) + 1
		}
		return v
	}
	tests := []struct {
		name   string
		values []uint64
		q      float64
		want   uint64
		relErr float64 // allowed relative error
	}{
		{"empty", nil, 0.5, 0, 0},
		{"single", []uint64{42}, 0.99, 42, 0},
		{"small values exact p50", uniform(100), 0.5, 50, 0},
		{"small values exact p99", uniform(100), 0.99, 99, 0},
		{"small values max", uniform(100), 1, 100, 0},
		{"q=0 is the minimum", uniform(100), 0, 1, 0},
		{"uniform p50", uniform(100_000), 0.5, 50_000, 1.0 / 64},
		{"uniform p99", uniform(100_000), 0.99, 99_000, 1.0 / 64},
		{"uniform p99.9", uniform(100_000), 0.999, 99_900, 1.0 / 64},
		{"clamped to max", []uint64{1_000_001}, 1, 1_000_001, 0},
		{"outlier tail", append(make([]uint64, 999), 5_000_000), 0.999, 0, 0},
		{"outlier at p99.9+", append(make([]uint64, 999), 5_000_000), 1, 5_000_000, 0},
		{"latencies ns", []uint64{250_000, 300_000, 310_000, 2_000_000}, 0.75, 310_000, 1.0 / 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			got := h.Quantile(tc.q)
			if tc.relErr == 0 {
				if got != tc.want {
					t.Fatalf("Quantile(%v) = %d, want %d", tc.q, got, tc.want)
				}
				return
			}
			if got < tc.want || float64(got-tc.want) > tc.relErr*float64(tc.want) {
				t.Fatalf("Quantile(%v) = %d, want %d within +%.2f%%", tc.q, got, tc.want, 100*tc.relErr)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for v := uint64(1); v <= 10_000; v++ {
		if v%2 == 0 {
			a.Record(v * 1000)
		} else {
			b.Record(v * 1000)
		}
		all.Record(v * 1000)
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{})
	if m.Count() != all.Count() || m.Min() != 1000 || m.Max() != 10_000_000 || m.Mean() != all.Mean() {
		t.Fatalf("merged count/min/max/mean %d/%d/%d/%v, want %d/1000/10000000/%v", m.Count(), m.Min(), m.Max(), m.Mean(), all.Count(), all.Mean())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged Quantile(%v) = %d, recorded in one: %d", q, m.Quantile(q), all.Quantile(q))
		}
	}
}
