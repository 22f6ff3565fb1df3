package basiq

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPlainStructsMatchTheirWireForms keeps each fast-path struct in step
// with the lenient wire struct it stands in for: a field added to one and
// not the other would be decoded on one path only.
func TestPlainStructsMatchTheirWireForms(t *testing.T) {
	t.Parallel()
	names := func(v any) map[string]bool {
		typ := reflect.TypeOf(v)
		out := map[string]bool{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); f.IsExported() && name != "-" {
				out[name] = true
			}
		}
		return out
	}
	for _, tc := range []struct{ plain, wire any }{
		{jobPlain{}, jobWire{}},
		{stepPlain{}, Step{}},
	} {
		assert.Equal(t, names(tc.wire), names(tc.plain), "%T and %T decode different fields", tc.plain, tc.wire)
	}
}
