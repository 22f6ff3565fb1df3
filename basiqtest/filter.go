package basiqtest

import (
	"errors"
	"fmt"
	"strings"
)

// fieldSet maps the fields a list filters on to their value in an item; the
// boolean is false where the item has no value (such a field matches no
// operation).
type fieldSet[T any] map[string]func(T) (string, bool)

// clause is one "field.op('arg',...)" of a filter.
type clause struct {
	field, op string
	args      []string
}

// opArity is how many arguments an operation takes (-1: one or more), and
// whether the operation is known.
func opArity(op string) (int, bool) {
	switch op {
	case "eq", "gt", "gteq", "lt", "lteq":
		return 1, true
	case "bt":
		return 2, true
	case "in":
		return -1, true
	}
	return 0, false
}

// parseFilterParam reads the request's filter parameters (several are
// ANDed, like the clauses of one) against fields. It returns the matcher, or
// a 400 parameter-not-valid reply and true.
func parseFilterParam[T any](c *call, fields fieldSet[T]) (func(T) bool, reply, bool) {
	var all []clause
	for _, raw := range c.r.URL.Query()["filter"] {
		cls, err := parseFilter(raw)
		if err == nil {
			err = checkClauses(cls, fields)
		}
		if err != nil {
			return nil, fail(errInvalidParam("filter", "filter is not valid: "+err.Error())), true
		}
		all = append(all, cls...)
	}
	return func(item T) bool {
		for _, cl := range all {
			v, has := fields[cl.field](item)
			if !has || !cl.matches(v) {
				return false
			}
		}
		return true
	}, reply{}, false
}

func checkClauses[T any](cls []clause, fields fieldSet[T]) error {
	for _, cl := range cls {
		if _, known := fields[cl.field]; !known {
			return fmt.Errorf("unknown field %q", cl.field)
		}
		n, known := opArity(cl.op)
		switch {
		case !known:
			return fmt.Errorf("unknown operation %q", cl.op)
		case n >= 0 && len(cl.args) != n:
			return fmt.Errorf("%s takes %d value(s), got %d", cl.op, n, len(cl.args))
		}
	}
	return nil
}

// matches applies the clause to a field's value. Values compare as strings;
// the values of date fields (names ending in "Date") and their arguments
// compare by their first ten characters, YYYY-MM-DD. bt is inclusive.
func (cl clause) matches(v string) bool {
	args := cl.args
	if strings.HasSuffix(cl.field, "Date") {
		v = dayPart(v)
		args = make([]string, len(cl.args))
		for i, a := range cl.args {
			args[i] = dayPart(a)
		}
	}
	switch cl.op {
	case "eq":
		return v == args[0]
	case "in":
		for _, a := range args {
			if v == a {
				return true
			}
		}
		return false
	case "gt":
		return v > args[0]
	case "gteq":
		return v >= args[0]
	case "lt":
		return v < args[0]
	case "lteq":
		return v <= args[0]
	case "bt":
		return v >= args[0] && v <= args[1]
	}
	return false
}

func dayPart(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// parseFilter parses "field.op('v1','v2'),field.op('v')": clauses
// separated by commas (AND), values in single quotes, a quote inside a
// value doubled (”). Spaces between the parts are allowed.
func parseFilter(s string) ([]clause, error) {
	var out []clause
	p := 0
	skip := func() {
		for p < len(s) && s[p] == ' ' {
			p++
		}
	}
	skip()
	if p == len(s) {
		return nil, nil
	}
	for {
		start := p
		for p < len(s) && s[p] != '(' {
			if !isNameByte(s[p]) {
				return nil, fmt.Errorf("unexpected %q at %d", s[p], p)
			}
			p++
		}
		if p == len(s) {
			return nil, errors.New("expected field.operation(values)")
		}
		head := s[start:p]
		dot := strings.LastIndexByte(head, '.')
		if dot <= 0 || dot == len(head)-1 {
			return nil, fmt.Errorf("%q is not field.operation", head)
		}
		cl := clause{field: head[:dot], op: head[dot+1:]}
		p++ // (
		for {
			skip()
			if p == len(s) || s[p] != '\'' {
				return nil, fmt.Errorf("expected a quoted value at %d", p)
			}
			p++
			var v strings.Builder
			closed := false
			for p < len(s) {
				if s[p] == '\'' {
					if p+1 < len(s) && s[p+1] == '\'' {
						v.WriteByte('\'')
						p += 2
						continue
					}
					p++
					closed = true
					break
				}
				v.WriteByte(s[p])
				p++
			}
			if !closed {
				return nil, errors.New("unterminated quoted value")
			}
			cl.args = append(cl.args, v.String())
			skip()
			if p < len(s) && s[p] == ',' {
				p++
				continue
			}
			if p < len(s) && s[p] == ')' {
				p++
				break
			}
			return nil, fmt.Errorf("expected , or ) at %d", p)
		}
		out = append(out, cl)
		skip()
		if p == len(s) {
			return out, nil
		}
		if s[p] != ',' {
			return nil, fmt.Errorf("expected , at %d", p)
		}
		p++
		skip()
	}
}

func isNameByte(b byte) bool {
	return b == '.' || b == '_' || b == '-' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
