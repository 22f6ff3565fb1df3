package basiq

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// jsonNames returns the JSON names of a struct type's fields ("-" and
// unexported fields left out).
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// TestWireStructsMatchTheirPublicTypes keeps each wire struct (the form a
// resource is decoded from in one pass) in step with its public type: a
// field added to one and not the other would be silently lost.
func TestWireStructsMatchTheirPublicTypes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		public, wire any
		// onlyPublic are public fields the wire form does not carry (they
		// are derived); onlyWire are the wire form's other spellings.
		onlyPublic, onlyWire []string
	}{
		{Job{}, jobWire{}, nil, nil},
		{Transaction{}, transactionWire{}, nil, nil},
		{StepResult{}, stepResultWire{}, []string{"questions", "items"}, []string{"details", "input"}},
	}
	for _, tc := range cases {
		pub, wire := jsonNames(reflect.TypeOf(tc.public)), jsonNames(reflect.TypeOf(tc.wire))
		for _, n := range tc.onlyPublic {
			assert.True(t, pub[n], "%T has no field %q", tc.public, n)
			delete(pub, n)
		}
		for _, n := range tc.onlyWire {
			assert.True(t, wire[n], "%T has no field %q", tc.wire, n)
			delete(wire, n)
		}
		assert.Equal(t, pub, wire, "%T and %T decode different fields", tc.public, tc.wire)
	}
}
