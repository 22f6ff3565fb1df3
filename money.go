package basiq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an amount of money exactly as the API wrote it, such as
// "-42.50". It is never converted to a float: read it with [Decimal.Rat] or
// [Decimal.MinorUnits]. A JSON number is accepted too and kept as written.
type Decimal string

// maxDecimalDigits is the most digits a Decimal reader accepts: far more
// than any amount of money needs, few enough that a hostile number costs
// nothing to refuse.
const maxDecimalDigits = 40

// UnmarshalJSON keeps a JSON string or number as its exact text; null is "".
// A value of more than 40 digits is refused.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	// Sign, point, quotes and a little space: anything longer has too many
	// digits, and is refused before it is read.
	if len(b) > maxDecimalDigits+8 {
		return fmt.Errorf("basiq: decimal: %s... has more than %d digits", snippet(b, 20), maxDecimalDigits)
	}
	switch {
	case bytes.Equal(b, []byte("null")):
		*d = ""
	case len(b) > 0 && b[0] == '"':
		s, ok := unquote(b)
		if !ok {
			return fmt.Errorf("basiq: decimal: invalid string %s", snippet(b, 40))
		}
		*d = Decimal(strings.TrimSpace(s))
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("basiq: decimal: %w", err)
		}
		*d = Decimal(n.String())
	}
	return nil
}

// String returns the decimal as the API wrote it.
func (d Decimal) String() string { return string(d) }

// Rat returns the exact value. An empty Decimal is an error, not zero, and
// so is one of more than 40 digits.
func (d Decimal) Rat() (*big.Rat, error) {
	s := string(d)
	if len(s) > maxDecimalDigits+2 {
		return nil, fmt.Errorf("basiq: %q... is not a decimal amount: more than %d digits", clean(s[:20], 20), maxDecimalDigits)
	}
	if !isPlainDecimal(s) {
		return nil, fmt.Errorf("basiq: %q is not a decimal amount", clean(s, 50))
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("basiq: %q is not a decimal amount", clean(s, 50))
	}
	return r, nil
}

// isPlainDecimal reports whether s is an optional sign, digits and an
// optional fraction, of at most maxDecimalDigits digits: no exponent, base
// prefix, separator or ratio.
func isPlainDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, hasDot := strings.Cut(s, ".")
	if len(intPart)+len(frac) > maxDecimalDigits {
		return false
	}
	digits := func(p string) bool {
		return strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }) < 0
	}
	if !digits(intPart) || !digits(frac) || intPart == "" && frac == "" {
		return false
	}
	return !hasDot || frac != "" || intPart != ""
}

// MinorUnits returns the amount in units of 10^-scale, exactly: with scale 2,
// "-42.5" is -4250 cents. It fails if the amount has more decimal places than
// scale or does not fit an int64, rather than round.
func (d Decimal) MinorUnits(scale int) (int64, error) {
	if scale < 0 || scale > 18 {
		return 0, fmt.Errorf("basiq: scale %d out of range 0..18", scale)
	}
	r, err := d.Rat()
	if err != nil {
		return 0, err
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		return 0, fmt.Errorf("basiq: %s has more than %d decimal places", d, scale)
	}
	n := r.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("basiq: %s does not fit in int64 at scale %d", d, scale)
	}
	return n.Int64(), nil
}

// Float64 returns the nearest float64, for display and rough sums only.
func (d Decimal) Float64() (float64, error) {
	if _, err := d.Rat(); err != nil {
		return 0, err
	}
	return strconv.ParseFloat(string(d), 64)
}
