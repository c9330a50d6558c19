package translator

import (
	"fmt"
	"strconv"
	"strings"
)

// This file translates the CEL subset the KFP SDK writes into
// triggerPolicy.condition and parameterExpressionSelector into an Argo
// expression (expr-lang, evaluated in a `{{=...}}` tag). Values are never
// spliced into the expression text: Argo parameters are referenced as
// variables, so a value holding quotes or operators cannot change the
// expression's meaning.
//
// Grammar (CEL precedence, loosest first):
//
//	or      = and { "||" and }
//	and     = rel { "&&" rel }
//	rel     = unary [ ("=="|"!="|"<"|"<="|">"|">=") unary ]
//	unary   = "!" unary | "-" unary | postfix
//	postfix = primary { "[" or "]" | "." IDENT }
//	primary = STRING | NUMBER | "true" | "false" | IDENT [ "(" [ or { "," or } ] ")" ] | "(" or ")"

// celKind is the static type of a translated sub-expression. Argo
// parameters are strings, so a parameter reference is kindString until int()
// or double() converts it.
type celKind int

const (
	kindString celKind = iota
	kindNumber
	kindBool
	kindAny // a value selected out of JSON: its type is known only at run time
)

// celScope tells when Argo can evaluate an expression: one over DAG inputs
// only is evaluated when the DAG template starts; one that also reads task
// outputs fails to compile then (tasks is unknown), stays as it is, and is
// evaluated once the task's dependencies are done, when Argo's scope holds
// both the DAG's inputs and the upstream outputs.
type celScope int

const (
	scopeNone celScope = iota
	scopeInputs
	scopeTasks
)

// celRef is what a reference to a task input becomes.
type celRef struct {
	code  string // expr-lang code
	kind  celKind
	scope celScope
}

// celResolver maps the name in inputs.parameter_values['NAME'] (or, for a
// selector, the identifier string_value with name "") to Argo code.
type celResolver func(name string) (celRef, error)

type celToken struct {
	kind string // "str", "num", "ident", or the operator/punctuation itself
	text string // literal value (unquoted for strings)
	pos  int
}

func celTokenize(src string) ([]celToken, error) {
	var toks []celToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			s, n, err := celString(src[i:])
			if err != nil {
				return nil, fmt.Errorf("at offset %d: %w", i, err)
			}
			toks = append(toks, celToken{kind: "str", text: s, pos: i})
			i += n
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == 'e' || src[j] == 'E' ||
				(src[j] == '-' || src[j] == '+') && (src[j-1] == 'e' || src[j-1] == 'E')) {
				j++
			}
			if _, err := strconv.ParseFloat(src[i:j], 64); err != nil {
				return nil, fmt.Errorf("at offset %d: bad number %q", i, src[i:j])
			}
			toks = append(toks, celToken{kind: "num", text: src[i:j], pos: i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, celToken{kind: "ident", text: src[i:j], pos: i})
			i = j
		default:
			op := ""
			for _, cand := range []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "-", "(", ")", "[", "]", ".", ","} {
				if strings.HasPrefix(src[i:], cand) {
					op = cand
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("at offset %d: unexpected character %q", i, c)
			}
			toks = append(toks, celToken{kind: op, pos: i})
			i += len(op)
		}
	}
	return toks, nil
}

// celString reads a quoted CEL string literal at the start of s and returns
// its value and length. Only the escapes the SDK can produce are accepted.
func celString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated string")
			}
			i++
			switch e := s[i]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				return "", 0, fmt.Errorf("unsupported escape \\%c", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

type celParser struct {
	toks    []celToken
	i       int
	resolve celResolver
	scope   celScope
	depth   int
}

// maxCELDepth bounds how deeply a condition may nest (parentheses, calls,
// '!' and '-'). The parser recurses once per level, and Go ends a program
// whose stack overflows with no way to recover; KFP's conditions nest a
// few levels.
const maxCELDepth = 200

// celTranslate translates a CEL expression into expr-lang code. It returns
// the code, its kind and the scope it must be evaluated in.
func celTranslate(src string, resolve celResolver) (string, celKind, celScope, error) {
	toks, err := celTokenize(src)
	if err != nil {
		return "", 0, 0, err
	}
	p := &celParser{toks: toks, resolve: resolve}
	e, err := p.or()
	if err != nil {
		return "", 0, 0, err
	}
	if p.i < len(p.toks) {
		return "", 0, 0, fmt.Errorf("at offset %d: unexpected %s", p.toks[p.i].pos, p.describe(p.toks[p.i]))
	}
	return e.code, e.kind, p.scope, nil
}

// celCondition translates a trigger condition into a boolean expression.
func celCondition(src string, resolve celResolver) (string, celScope, error) {
	code, kind, scope, err := celTranslate(src, resolve)
	if err != nil {
		return "", 0, err
	}
	return asBool(celRef{code: code, kind: kind}).code, scope, nil
}

type celExpr = celRef

func (p *celParser) describe(t celToken) string {
	switch t.kind {
	case "str":
		return strconv.Quote(t.text)
	case "num", "ident":
		return t.text
	}
	return "'" + t.kind + "'"
}

func (p *celParser) peek(kind string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == kind
}

func (p *celParser) expect(kind string) error {
	if !p.peek(kind) {
		if p.i >= len(p.toks) {
			return fmt.Errorf("expected '%s' at end of expression", kind)
		}
		return fmt.Errorf("at offset %d: expected '%s', got %s", p.toks[p.i].pos, kind, p.describe(p.toks[p.i]))
	}
	p.i++
	return nil
}

func (p *celParser) or() (celExpr, error) {
	l, err := p.and()
	if err != nil {
		return l, err
	}
	for p.peek("||") {
		p.i++
		r, err := p.and()
		if err != nil {
			return r, err
		}
		l = celExpr{code: asBool(l).code + " || " + asBool(r).code, kind: kindBool}
	}
	return l, nil
}

func (p *celParser) and() (celExpr, error) {
	l, err := p.rel()
	if err != nil {
		return l, err
	}
	for p.peek("&&") {
		p.i++
		r, err := p.rel()
		if err != nil {
			return r, err
		}
		l = celExpr{code: paren(asBool(l).code, "||") + " && " + paren(asBool(r).code, "||"), kind: kindBool}
	}
	return l, nil
}

// paren wraps code in parentheses when it contains a looser operator.
func paren(code, looser string) string {
	if strings.Contains(code, looser) {
		return "(" + code + ")"
	}
	return code
}

func (p *celParser) rel() (celExpr, error) {
	l, err := p.unary()
	if err != nil {
		return l, err
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if !p.peek(op) {
			continue
		}
		p.i++
		r, err := p.unary()
		if err != nil {
			return r, err
		}
		return compare(l, op, r), nil
	}
	return l, nil
}

// compare makes both sides comparable. Parameter values are strings in Argo
// while CEL compares typed values, so a string side is converted to the other
// side's type: a number with float(), a boolean by comparing to its text.
func compare(l celExpr, op string, r celExpr) celExpr {
	switch {
	case l.kind == kindString && r.kind == kindNumber:
		l = celExpr{code: "float(" + l.code + ")", kind: kindNumber}
	case l.kind == kindNumber && r.kind == kindString:
		r = celExpr{code: "float(" + r.code + ")", kind: kindNumber}
	case l.kind == kindString && r.kind == kindBool:
		r = celExpr{code: "string(" + r.code + ")", kind: kindString}
	case l.kind == kindBool && r.kind == kindString:
		l = celExpr{code: "string(" + l.code + ")", kind: kindString}
	}
	return celExpr{code: operand(l) + " " + op + " " + operand(r), kind: kindBool}
}

func operand(e celExpr) string {
	for _, op := range []string{"||", "&&", "==", "!=", "<", ">"} {
		if strings.Contains(stripStrings(e.code), op) {
			return "(" + e.code + ")"
		}
	}
	return e.code
}

// stripStrings blanks out string literals so operator detection ignores them.
func stripStrings(code string) string {
	b := []byte(code)
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		for i++; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' {
				b[i] = ' '
				i++
			}
			b[i] = ' '
		}
	}
	return string(b)
}

// asBool turns a value used as a condition into a boolean: a parameter
// holding a BOOLEAN is the text "true" or "false".
func asBool(e celExpr) celExpr {
	switch e.kind {
	case kindBool:
		return e
	case kindNumber:
		return celExpr{code: operand(e) + " != 0", kind: kindBool}
	}
	return celExpr{code: "string(" + e.code + ") == \"true\"", kind: kindBool}
}

func (p *celParser) unary() (celExpr, error) {
	// Every nesting (a parenthesis, a call's argument, an index, a prefix
	// operator) comes through here.
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxCELDepth {
		pos := len(p.toks)
		if p.i < len(p.toks) {
			pos = p.toks[p.i].pos
		}
		return celExpr{}, fmt.Errorf("at offset %d: nested deeper than %d levels", pos, maxCELDepth)
	}
	switch {
	case p.peek("!"):
		p.i++
		e, err := p.unary()
		if err != nil {
			return e, err
		}
		code := asBool(e).code
		if !wrapped(code) {
			code = "(" + code + ")"
		}
		return celExpr{code: "!" + code, kind: kindBool}, nil
	case p.peek("-"):
		p.i++
		e, err := p.unary()
		if err != nil {
			return e, err
		}
		if e.kind == kindString {
			e.code = "float(" + e.code + ")"
		}
		return celExpr{code: "-" + operand(e), kind: kindNumber}, nil
	}
	return p.postfix()
}

func (p *celParser) postfix() (celExpr, error) {
	start := p.i
	// inputs.parameter_values['x'] and inputs.parameters['x'] name a task input.
	if p.peek("ident") && p.toks[p.i].text == "inputs" && p.i+4 < len(p.toks) && p.toks[p.i+1].kind == "." &&
		p.toks[p.i+2].kind == "ident" && (p.toks[p.i+2].text == "parameter_values" || p.toks[p.i+2].text == "parameters") &&
		p.toks[p.i+3].kind == "[" && p.toks[p.i+4].kind == "str" {
		name := p.toks[p.i+4].text
		p.i += 5
		if err := p.expect("]"); err != nil {
			return celExpr{}, err
		}
		ref, err := p.reference(name, p.toks[start].pos)
		if err != nil {
			return ref, err
		}
		return p.selectors(ref)
	}
	e, err := p.primary()
	if err != nil {
		return e, err
	}
	return p.selectors(e)
}

func (p *celParser) reference(name string, pos int) (celExpr, error) {
	ref, err := p.resolve(name)
	if err != nil {
		return ref, fmt.Errorf("at offset %d: %w", pos, err)
	}
	if ref.scope > p.scope {
		p.scope = ref.scope
	}
	return ref, nil
}

// selectors applies x["k"], x[0] and x.k to a value, which must then be JSON.
func (p *celParser) selectors(e celExpr) (celExpr, error) {
	for {
		switch {
		case p.peek("["):
			p.i++
			k, err := p.or()
			if err != nil {
				return k, err
			}
			if err := p.expect("]"); err != nil {
				return k, err
			}
			if k.kind == kindNumber {
				k.code = "int(" + k.code + ")"
			}
			e = celExpr{code: jsonValue(e) + "[" + k.code + "]", kind: kindAny}
		case p.peek(".") && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == "ident":
			k := p.toks[p.i+1].text
			p.i += 2
			e = celExpr{code: jsonValue(e) + "[" + strconv.Quote(k) + "]", kind: kindAny}
		default:
			return e, nil
		}
	}
}

// jsonValue is a value that can be indexed: Argo parameters hold JSON text.
func jsonValue(e celExpr) string {
	if e.kind == kindString {
		return "fromJSON(" + e.code + ")"
	}
	return e.code
}

func (p *celParser) primary() (celExpr, error) {
	if p.i >= len(p.toks) {
		return celExpr{}, fmt.Errorf("unexpected end of expression")
	}
	t := p.toks[p.i]
	p.i++
	switch t.kind {
	case "str":
		return celExpr{code: exprString(t.text), kind: kindString}, nil
	case "num":
		return celExpr{code: t.text, kind: kindNumber}, nil
	case "(":
		e, err := p.or()
		if err != nil {
			return e, err
		}
		if err := p.expect(")"); err != nil {
			return e, err
		}
		e.code = "(" + e.code + ")"
		return e, nil
	case "ident":
		switch t.text {
		case "true", "false":
			return celExpr{code: t.text, kind: kindBool}, nil
		case "string_value":
			return p.reference("", t.pos)
		}
		if !p.peek("(") {
			return celExpr{}, fmt.Errorf("at offset %d: unsupported identifier %q", t.pos, t.text)
		}
		p.i++
		arg, err := p.or()
		if err != nil {
			return arg, err
		}
		if err := p.expect(")"); err != nil {
			return arg, err
		}
		switch t.text {
		case "int":
			return celExpr{code: "int(" + numeric(arg) + ")", kind: kindNumber}, nil
		case "double":
			return celExpr{code: "float(" + arg.code + ")", kind: kindNumber}, nil
		case "string":
			return celExpr{code: "string(" + arg.code + ")", kind: kindString}, nil
		case "parseJson":
			return celExpr{code: "fromJSON(" + arg.code + ")", kind: kindAny}, nil
		}
		return celExpr{}, fmt.Errorf("at offset %d: unsupported function %s()", t.pos, t.text)
	}
	return celExpr{}, fmt.Errorf("at offset %d: unexpected %s", t.pos, p.describe(t))
}

// numeric lets int() take "3.0" as well as "3", like CEL's int(double).
func numeric(e celExpr) string {
	if e.kind == kindString {
		return "float(" + e.code + ")"
	}
	return e.code
}

// exprString writes s as an expr-lang string literal. Braces are escaped so
// the literal cannot end the surrounding {{=...}} tag.
func exprString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "{", `\x7b`)
	return strings.ReplaceAll(q, "}", `\x7d`)
}

// wrapped reports whether code is one parenthesized expression, so that a
// negation needs no second pair.
func wrapped(code string) bool {
	if !strings.HasPrefix(code, "(") || !strings.HasSuffix(code, ")") {
		return false
	}
	plain := stripStrings(code)
	depth := 0
	for i := 0; i < len(plain); i++ {
		switch plain[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(plain)-1 {
				return false
			}
		}
	}
	return true
}
