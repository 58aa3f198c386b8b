package npyfile

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The .npy header is the text of a Python dictionary, which numpy reads
// with ast.literal_eval (after dropping Python 2 'L' suffixes from the
// numbers of version 1 and 2 files). parseHeader reads the part of Python's
// literal syntax that a header numpy accepts can hold: strings (quotes,
// triple quotes, r and u prefixes, escapes, adjacent strings joined), ints
// (decimal, 0x, 0o, 0b, underscores, one sign), True, False, None, tuples,
// lists and dicts, with Python's rules for whitespace, comments, line
// joining and indentation. Anything else (floats, bytes, sets, names) is
// an error: numpy would refuse such a header too, because the three keys it
// requires take only a string, a tuple of ints and a bool.
//
// Every step is bounds-checked: any bytes give a value or an error.

type pyKind int

const (
	pyStr pyKind = iota
	pyInt
	pyBool
	pyNone
	pyTuple
	pyList
	pyDict
)

// pyValue is one parsed Python literal.
type pyValue struct {
	kind pyKind
	str  string
	num  int64 // pyInt (when !big), pyBool (0 or 1)
	big  bool  // a pyInt beyond int64
	// signed marks an int written with a sign: Python's literal_eval takes
	// one sign on a number, never two.
	signed bool
	items  []pyValue // pyTuple, pyList; pyDict values in keys' order
	keys   []string  // pyDict
}

// maxNesting bounds the brackets of a header; Python's tokenizer stops at
// 200.
const maxNesting = 100

type headerParser struct {
	s     string
	i     int
	depth int  // open brackets
	py2   bool // format version 1 or 2: numpy drops an 'L' after a number
	err   string
}

// parseHeader parses header s. py2 is set for format versions 1 and 2.
func parseHeader(s string, py2 bool) (pyValue, string) {
	p := &headerParser{s: s, py2: py2}
	v, ok := p.top()
	if !ok {
		return pyValue{}, p.err
	}
	return v, ""
}

func (p *headerParser) fail(format string, args ...any) bool {
	if p.err == "" {
		if len(args) > 0 {
			format = fmt.Sprintf(format, args...)
		}
		p.err = format
	}
	return false
}

func (p *headerParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *headerParser) at(off int) byte {
	if p.i+off < len(p.s) {
		return p.s[p.i+off]
	}
	return 0
}

// newline consumes a "\n", "\r\n" or "\r" at p.i and reports whether there
// was one.
func (p *headerParser) newline() bool {
	switch p.peek() {
	case '\n':
		p.i++
		return true
	case '\r':
		p.i++
		if p.peek() == '\n' {
			p.i++
		}
		return true
	}
	return false
}

// comment skips a '#' comment up to its line's end.
func (p *headerParser) comment() {
	for p.i < len(p.s) && p.s[p.i] != '\n' && p.s[p.i] != '\r' {
		p.i++
	}
}

// top parses the whole header: one dictionary, with only blank and comment
// lines around it.
func (p *headerParser) top() (pyValue, bool) {
	if strings.IndexByte(p.s, 0) >= 0 {
		// Python: "source code cannot contain null bytes".
		return pyValue{}, p.fail("the header holds a NUL byte")
	}
	// Python: literal_eval strips leading spaces and tabs;
	// after that a blank or comment line may precede the value, and the
	// value's line must not be indented (a form feed resets the column).
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	for {
		col := 0
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == ' ' || c == '\t' {
				col++
			} else if c == '\f' {
				col = 0
			} else {
				break
			}
			p.i++
		}
		if p.peek() == '#' {
			p.comment()
		}
		if p.i >= len(p.s) {
			return pyValue{}, p.fail("the header is empty")
		}
		if p.newline() {
			continue
		}
		if col > 0 {
			return pyValue{}, p.fail("the header's first line is indented")
		}
		break
	}
	v, ok := p.value()
	if !ok {
		return pyValue{}, false
	}
	// Only spaces, comments and newlines may follow.
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\f':
			p.i++
		case c == '#':
			p.comment()
		case p.newline():
		default:
			return pyValue{}, p.fail("unexpected %q after the header's dictionary", c)
		}
	}
	return v, true
}

// space skips whitespace and comments between tokens. Inside brackets that
// includes newlines and backslash line joins; outside, the caller handles
// line ends.
func (p *headerParser) space() bool {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\t' || c == '\f':
			p.i++
		case c == '#':
			p.comment()
		case p.depth > 0 && (c == '\n' || c == '\r'):
			p.newline()
		case c == '\\' && p.depth > 0:
			p.i++
			if !p.newline() {
				return p.fail("a backslash outside a string must end its line")
			}
		case c == '\\':
			// Python joins a line ending in a backslash to the next; outside
			// brackets a header has no use for it, and numpy's tokenizer
			// refuses it at the end.
			return p.fail("a backslash outside the header's brackets")
		default:
			return true
		}
	}
	return true
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// value parses one literal at p.i, after skipping space.
func (p *headerParser) value() (pyValue, bool) {
	if !p.space() {
		return pyValue{}, false
	}
	c := p.peek()
	switch {
	case p.i >= len(p.s):
		return pyValue{}, p.fail("the header ends early")
	case c == '{' || c == '(' || c == '[':
		return p.container(c)
	case c == '+' || c == '-':
		p.i++
		v, ok := p.value()
		if !ok {
			return pyValue{}, false
		}
		if v.kind != pyInt || v.signed {
			return pyValue{}, p.fail("a sign before something other than a number")
		}
		if c == '-' {
			v.num = -v.num
		}
		v.signed = true
		return v, true
	case isDigit(c):
		return p.number()
	case c == '.':
		return pyValue{}, p.fail("a float in the header")
	case c == '\'' || c == '"':
		return p.strings()
	case isIdent(c):
		j := p.i
		for j < len(p.s) && isIdent(p.s[j]) {
			j++
		}
		if j < len(p.s) && (p.s[j] == '\'' || p.s[j] == '"') {
			return p.strings()
		}
		name := p.s[p.i:j]
		p.i = j
		switch name {
		case "True":
			return pyValue{kind: pyBool, num: 1}, true
		case "False":
			return pyValue{kind: pyBool}, true
		case "None":
			return pyValue{kind: pyNone}, true
		}
		return pyValue{}, p.fail("the name %q in the header", name)
	}
	return pyValue{}, p.fail("unexpected %q in the header", c)
}

// container parses a dict, a tuple (or a parenthesised value) or a list.
func (p *headerParser) container(open byte) (pyValue, bool) {
	p.depth++
	if p.depth > maxNesting {
		return pyValue{}, p.fail("the header nests more than %d brackets", maxNesting)
	}
	p.i++
	close := map[byte]byte{'{': '}', '(': ')', '[': ']'}[open]
	var v pyValue
	switch open {
	case '{':
		v.kind = pyDict
	case '(':
		v.kind = pyTuple
	default:
		v.kind = pyList
	}
	n := 0
	for {
		if !p.space() {
			return pyValue{}, false
		}
		if p.peek() == close {
			p.i++
			break
		}
		var key pyValue
		if open == '{' {
			var ok bool
			if key, ok = p.value(); !ok {
				return pyValue{}, false
			}
			if !p.space() {
				return pyValue{}, false
			}
			if p.peek() != ':' {
				return pyValue{}, p.fail("a set or a malformed dictionary in the header")
			}
			p.i++
			if key.kind != pyStr {
				return pyValue{}, p.fail("a dictionary key that is not a string")
			}
		}
		item, ok := p.value()
		if !ok {
			return pyValue{}, false
		}
		n++
		if open == '{' {
			// Python: a repeated key keeps its last value.
			k := -1
			for j, s := range v.keys {
				if s == key.str {
					k = j
				}
			}
			if k >= 0 {
				v.items[k] = item
			} else {
				v.keys = append(v.keys, key.str)
				v.items = append(v.items, item)
			}
		} else {
			v.items = append(v.items, item)
		}
		if !p.space() {
			return pyValue{}, false
		}
		switch p.peek() {
		case ',':
			p.i++
			continue
		case close:
			p.i++
			if open == '(' && n == 1 {
				// (x) is x; (x,) is a tuple.
				p.depth--
				return item, true
			}
		default:
			if p.i >= len(p.s) {
				return pyValue{}, p.fail("the header ends inside brackets")
			}
			return pyValue{}, p.fail("unexpected %q in the header", p.peek())
		}
		break
	}
	p.depth--
	return v, true
}

// number parses an int literal: decimal, 0x, 0o or 0b, with underscores
// between digits.
func (p *headerParser) number() (pyValue, bool) {
	base, digits := 10, "0123456789"
	if p.peek() == '0' {
		switch p.at(1) {
		case 'x', 'X':
			base, digits = 16, "0123456789abcdefABCDEF"
		case 'o', 'O':
			base, digits = 8, "01234567"
		case 'b', 'B':
			base, digits = 2, "01"
		}
	}
	var text []byte
	if base != 10 {
		p.i += 2
		if p.peek() == '_' {
			p.i++ // Python allows 0x_ff
		}
	}
	for {
		c := p.peek()
		if c == 0 || strings.IndexByte(digits, c) < 0 {
			return pyValue{}, p.fail("a malformed number in the header")
		}
		text = append(text, c)
		p.i++
		if p.peek() == '_' && p.i+1 < len(p.s) && strings.IndexByte(digits, p.s[p.i+1]) >= 0 {
			p.i++
			continue
		}
		if c := p.peek(); c != 0 && strings.IndexByte(digits, c) >= 0 {
			continue
		}
		break
	}
	if base == 10 && len(text) > 1 && text[0] == '0' && strings.Trim(string(text), "0") != "" {
		return pyValue{}, p.fail("a decimal number with a leading zero in the header")
	}
	switch c := p.peek(); {
	case c == '.' || base == 10 && (c == 'e' || c == 'E') || c == 'j' || c == 'J':
		return pyValue{}, p.fail("a float or complex number in the header")
	case isIdent(c) || c == '_':
		if !p.dropL() {
			return pyValue{}, p.fail("a malformed number in the header")
		}
	default:
		p.dropL()
	}
	v := pyValue{kind: pyInt}
	n, err := strconv.ParseInt(string(text), base, 64)
	if err != nil {
		v.big = true
	}
	v.num = n
	return v, true
}

// dropL skips the 'L' of a Python 2 long ("3L", "3 L") in a version 1 or
// 2 header, as numpy's header filter does, and reports whether it did.
func (p *headerParser) dropL() bool {
	if !p.py2 {
		return false
	}
	j := p.i
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t' || p.s[j] == '\f') {
		j++
	}
	if j < len(p.s) && p.s[j] == 'L' && (j+1 >= len(p.s) || !isIdent(p.s[j+1])) {
		p.i = j + 1
		return true
	}
	return false
}

// strings parses one or more adjacent string literals and joins them.
func (p *headerParser) strings() (pyValue, bool) {
	var b strings.Builder
	for {
		if !p.str(&b) {
			return pyValue{}, false
		}
		save := p.i
		if !p.space() {
			return pyValue{}, false
		}
		c := p.peek()
		if c == '\'' || c == '"' {
			continue
		}
		if isIdent(c) {
			j := p.i
			for j < len(p.s) && isIdent(p.s[j]) {
				j++
			}
			if j < len(p.s) && (p.s[j] == '\'' || p.s[j] == '"') {
				continue
			}
		}
		p.i = save
		return pyValue{kind: pyStr, str: b.String()}, true
	}
}

// str parses one string literal into b.
func (p *headerParser) str(b *strings.Builder) bool {
	raw := false
	j := p.i
	for j < len(p.s) && isIdent(p.s[j]) {
		j++
	}
	switch strings.ToLower(p.s[p.i:j]) {
	case "":
	case "u":
	case "r":
		raw = true
	default:
		// b'' is bytes and f'' is not a literal: numpy refuses both.
		return p.fail("a string prefix %q in the header", p.s[p.i:j])
	}
	p.i = j
	q := p.peek()
	triple := p.at(1) == q && p.at(2) == q
	if triple {
		p.i += 3
	} else {
		p.i++
	}
	for {
		if p.i >= len(p.s) {
			return p.fail("an unterminated string in the header")
		}
		c := p.s[p.i]
		switch {
		case c == q && !triple:
			p.i++
			return true
		case c == q && p.at(1) == q && p.at(2) == q:
			p.i += 3
			return true
		case (c == '\n' || c == '\r') && !triple:
			return p.fail("an unterminated string in the header")
		case c == '\\' && raw:
			// A raw string keeps the backslash and the character after it,
			// which cannot end the string.
			if p.i+1 >= len(p.s) {
				return p.fail("an unterminated string in the header")
			}
			b.WriteString(p.s[p.i : p.i+2])
			p.i += 2
		case c == '\\':
			if !p.escape(b) {
				return false
			}
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			b.WriteRune(r)
			p.i += size
		}
	}
}

// escape decodes the backslash escape at p.i into b.
func (p *headerParser) escape(b *strings.Builder) bool {
	p.i++ // the backslash
	if p.i >= len(p.s) {
		return p.fail("an unterminated string in the header")
	}
	c := p.s[p.i]
	hex := func(n int) bool {
		if p.i+1+n > len(p.s) {
			return p.fail("a truncated \\%c escape in the header", c)
		}
		x, err := strconv.ParseUint(p.s[p.i+1:p.i+1+n], 16, 32)
		if err != nil || x > utf8.MaxRune {
			return p.fail("a malformed \\%c escape in the header", c)
		}
		b.WriteRune(rune(x))
		p.i += 1 + n
		return true
	}
	switch c {
	case '\n', '\r':
		p.newline() // a backslash at a line's end joins the lines
		return true
	case 'x':
		return hex(2)
	case 'u':
		return hex(4)
	case 'U':
		return hex(8)
	case 'N':
		return p.fail("a \\N{...} escape in the header")
	case '0', '1', '2', '3', '4', '5', '6', '7':
		x, n := 0, 0
		for n < 3 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7' {
			x = x*8 + int(p.s[p.i]-'0')
			p.i++
			n++
		}
		b.WriteRune(rune(x))
		return true
	}
	if e, ok := map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}[c]; ok {
		b.WriteByte(e)
		p.i++
		return true
	}
	// Python keeps an unknown escape as it is, backslash included.
	b.WriteByte('\\')
	return true
}
