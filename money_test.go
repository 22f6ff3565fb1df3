package basiq

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecimalRat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Decimal
		want string // big.Rat.RatString; "" means an error
	}{
		{"1234.56", "30864/25"},
		{"-42.50", "-85/2"},
		{"0.1", "1/10"},
		{"0", "0"},
		{"-0.00", "0"},
		{"100", "100"},
		{"0.000000000000000000000000001", "1/1000000000000000000000000000"},
		{"123456789012345678901234567890.12", "3086419725308641972530864197253/25"},
		{"", ""},
		{"abc", ""},
		{"12.5.1", ""},
		{"1e5", ""},
		{"1E5", ""},
		{"1/2", ""},
		{"Inf", ""},
		{"NaN", ""},
		{" 5", ""},
	}
	for _, tc := range tests {
		r, err := tc.in.Rat()
		if tc.want == "" {
			assert.Error(t, err, "%q", tc.in)
			assert.Nil(t, r, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, r.RatString(), "%q", tc.in)
	}

	// Exact: 0.1 + 0.2 is 0.3, which float64 cannot say.
	a, err := Decimal("0.1").Rat()
	require.NoError(t, err)
	b, err := Decimal("0.2").Rat()
	require.NoError(t, err)
	want, _ := new(big.Rat).SetString("0.3")
	assert.Zero(t, new(big.Rat).Add(a, b).Cmp(want))
}

// TestDecimalRatRefusesNonDecimalNotations pins down that Rat reads plain
// decimals only. big.Rat.SetString also accepts base prefixes (0x, 0b, 0o),
// binary exponents (p) and digit separators (_), none of which the API writes
// for an amount.
func TestDecimalRatRefusesNonDecimalNotations(t *testing.T) {
	t.Parallel()
	for _, in := range []Decimal{"0x10", "0X10", "0b101", "0o17", "1p4", "0x1.8p1", "1_000"} {
		_, err := in.Rat()
		assert.Error(t, err, "%q is not a decimal amount", in)
		_, err = in.MinorUnits(2)
		assert.Error(t, err, "%q is not a decimal amount", in)
	}
}

func TestDecimalMinorUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      Decimal
		scale   int
		want    int64
		wantErr bool
	}{
		{"-42.5", 2, -4250, false},
		{"-42.50", 2, -4250, false},
		{"1234.56", 2, 123456, false},
		{"0.01", 2, 1, false},
		{"0", 2, 0, false},
		{"7", 0, 7, false},
		{"1.234", 3, 1234, false},
		{"0.001", 2, 0, true},  // would need rounding
		{"10.005", 2, 0, true}, // would need rounding
		{"1.5", 0, 0, true},    // would need rounding
		{"92233720368547758.07", 2, math.MaxInt64, false},
		{"92233720368547758.08", 2, 0, true}, // one cent past int64
		{"-92233720368547758.08", 2, math.MinInt64, false},
		{"-92233720368547758.09", 2, 0, true},
		{"99999999999999999999", 0, 0, true},
		{"1", 18, 1_000_000_000_000_000_000, false},
		{"10", 18, 0, true}, // 10^19 overflows
		{"1", -1, 0, true},
		{"1", 19, 0, true},
		{"", 2, 0, true},
		{"garbage", 2, 0, true},
		{"1e5", 2, 0, true},
	}
	for _, tc := range tests {
		got, err := tc.in.MinorUnits(tc.scale)
		if tc.wantErr {
			assert.Error(t, err, "%q at scale %d gave %d", tc.in, tc.scale, got)
			assert.Zero(t, got)
			continue
		}
		require.NoError(t, err, "%q at scale %d", tc.in, tc.scale)
		assert.Equal(t, tc.want, got, "%q at scale %d", tc.in, tc.scale)
	}
}

func TestDecimalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json    string
		want    Decimal
		wantErr bool
	}{
		{`"1234.56"`, "1234.56", false},
		{`"-42.50"`, "-42.50", false}, // the trailing zero is kept
		{`" 12.00 "`, "12.00", false},
		{`12.5`, "12.5", false},
		{`-0.10`, "-0.10", false}, // a number is kept as written, too
		{`100`, "100", false},
		{`12345678901234567890.123456789`, "12345678901234567890.123456789", false}, // beyond float64
		{`1e5`, "1e5", false}, // kept, but Rat refuses it
		{`null`, "", false},
		{`""`, "", false},
		{`true`, "", true},
		{`{"amount":"1"}`, "", true},
		{`["1"]`, "", true},
	}
	for _, tc := range tests {
		var d Decimal
		err := json.Unmarshal([]byte(tc.json), &d)
		if tc.wantErr {
			assert.Error(t, err, "%s", tc.json)
			continue
		}
		require.NoError(t, err, "%s", tc.json)
		assert.Equal(t, tc.want, d, "%s", tc.json)
		assert.Equal(t, string(tc.want), d.String())
	}

	// In a struct, as the API sends it.
	var acc struct {
		Balance   Decimal  `json:"balance"`
		Available Decimal  `json:"availableFunds"`
		Missing   Decimal  `json:"missing"`
		Ptr       *Decimal `json:"ptr"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"balance":"1234.56","availableFunds":12.5,"ptr":null}`), &acc))
	assert.Equal(t, Decimal("1234.56"), acc.Balance)
	assert.Equal(t, Decimal("12.5"), acc.Available)
	assert.Equal(t, Decimal(""), acc.Missing)
	assert.Nil(t, acc.Ptr)

	_, err := Decimal("").Rat()
	assert.Error(t, err, "null is not zero")

	// Encoding writes the exact text back as a string.
	b, err := json.Marshal(acc.Balance)
	require.NoError(t, err)
	assert.JSONEq(t, `"1234.56"`, string(b))
}

func TestDecimalFloat64(t *testing.T) {
	t.Parallel()
	f, err := Decimal("-42.50").Float64()
	require.NoError(t, err)
	assert.Equal(t, -42.5, f)

	f, err = Decimal("1234.56").Float64()
	require.NoError(t, err)
	assert.InDelta(t, 1234.56, f, 1e-9)

	for _, bad := range []Decimal{"", "abc", "1e5", "Inf", "NaN", "1/2"} {
		f, err := bad.Float64()
		assert.Error(t, err, "%q", bad)
		assert.Zero(t, f, "%q", bad)
	}
}

// TestDecimalRefusesHugeNumbersCheaply checks that a hostile amount of a
// million digits is refused at once by every reader, with an error that does
// not carry the input.
func TestDecimalRefusesHugeNumbersCheaply(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("9", 1<<20)
	d := Decimal(huge + ".5")
	_, err := d.Rat()
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 200)
	_, err = d.MinorUnits(2)
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 200)
	_, err = d.Float64()
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 200)

	for _, raw := range []string{huge, `"` + huge + `"`, `"-` + huge + `.1"`} {
		var got Decimal
		err := json.Unmarshal([]byte(raw), &got)
		require.Error(t, err)
		assert.Less(t, len(err.Error()), 200)
		assert.Empty(t, got)
	}

	// The limit is far above money's needs: 40 digits are read.
	ok := Decimal("-" + strings.Repeat("1", 30) + "." + strings.Repeat("2", 10))
	_, err = ok.Rat()
	require.NoError(t, err)
	var got Decimal
	require.NoError(t, json.Unmarshal([]byte(`"`+string(ok)+`"`), &got))
	assert.Equal(t, ok, got)
	_, err = Decimal(strings.Repeat("1", 41)).Rat()
	require.Error(t, err)
}
