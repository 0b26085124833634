package main

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseHorizons: --horizon values parse into ascending distinct
// horizons >= 1 that print back to the same list, or fail with an error.
func FuzzParseHorizons(f *testing.F) {
	for _, s := range []string{"1,12,30", "30,1,1", " 5 ", "", ",", "0", "-1", "1e3", "99999999999999999999", "+7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		hs, err := parseHorizons(v)
		if err != nil {
			if !strings.Contains(err.Error(), "--horizon") {
				t.Fatalf("%q: error does not name the flag: %v", v, err)
			}
			return
		}
		if len(hs) == 0 {
			t.Fatalf("%q: no horizons and no error", v)
		}
		for i, h := range hs {
			if h < 1 || (i > 0 && h <= hs[i-1]) {
				t.Fatalf("%q: %v not ascending distinct positive", v, hs)
			}
		}
		var parts []string
		for _, h := range hs {
			parts = append(parts, strconv.Itoa(h))
		}
		again, err := parseHorizons(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, hs) {
			t.Fatalf("%q: %v reparses to %v, %v", v, hs, again, err)
		}
	})
}

// FuzzParseInputs: --inputs values parse into NAME@CLIP pairs that print
// (as train's default does, Input.String) and parse back to the same, or
// fail with an error.
func FuzzParseInputs(f *testing.F) {
	for _, s := range []string{"rel_last@5,diff@5", "diff@", "@1", "x@NaN", "x@-Inf", "a@1@2", "rel_mean@0x1p-3", " diff @ 2 ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ins, err := parseInputs(v)
		if err != nil {
			if !strings.Contains(err.Error(), "--inputs") {
				t.Fatalf("%q: error does not name the flag: %v", v, err)
			}
			return
		}
		if len(ins) == 0 {
			t.Fatalf("%q: no inputs and no error", v)
		}
		again, err := parseInputs(inputsString(ins))
		if err != nil || len(again) != len(ins) {
			t.Fatalf("%q: %v reparses to %v, %v", v, ins, again, err)
		}
		for i := range ins {
			a, b := ins[i], again[i]
			if a.Name != b.Name || (a.Clip != b.Clip && !(math.IsNaN(a.Clip) && math.IsNaN(b.Clip))) {
				t.Fatalf("%q: input %d: %v reparses to %v", v, i, a, b)
			}
		}
	})
}

// FuzzTypeLimitFlag: --type-limit values parse into a named count >= 0,
// or fail with an error.
func FuzzTypeLimitFlag(f *testing.F) {
	for _, s := range []string{"m5.large=2", "x=0", "=3", "a=-1", "a=", "a=b=c", " c5.xlarge = 4 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var l typeLimits
		if err := l.Set(v); err != nil {
			return
		}
		if len(l.m) != 1 {
			t.Fatalf("%q: %v", v, l.m)
		}
		for name, n := range l.m {
			if name == "" || name != strings.TrimSpace(name) || n < 0 {
				t.Fatalf("%q: %q=%d", v, name, n)
			}
		}
	})
}
