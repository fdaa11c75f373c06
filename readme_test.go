package journal_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestReadmeUsageIsExample: the Go code block of README.md's usage section
// is the body of Example in example_test.go, which go test compiles, runs and
// checks, so the README cannot show code that does not work. Indentation
// (tabs or spaces, and how deep) does not count; everything else does.
func TestReadmeUsageIsExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	block, err := usageBlock(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	body, err := exampleBody("example_test.go", "Example")
	if err != nil {
		t.Fatal(err)
	}
	got, want := normalizeCode(block), normalizeCode(body)
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("README.md's usage code differs from the body of Example in example_test.go at its line %d:\n"+
				"README:  %q\nexample: %q\n"+
				"Change both together: the README block is the example's body, dedented.", i+1, g, w)
		}
	}
}

// usageBlock returns the first ```go block after the "## Usage" heading and
// before the next second-level heading.
func usageBlock(readme string) (string, error) {
	_, section, ok := strings.Cut(readme, "\n## Usage\n")
	if !ok {
		return "", errors.New("README.md has no \"## Usage\" heading")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, code, ok := strings.Cut(section, "\n```go\n")
	if !ok {
		return "", errors.New("README.md's usage section has no ```go block")
	}
	code, _, ok = strings.Cut(code, "\n```")
	if !ok {
		return "", errors.New("README.md's usage ```go block is not closed")
	}
	return code, nil
}

// exampleBody returns the source between the braces of the function name
// in file, comments (the Output block too) included.
func exampleBody(file, name string) (string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return "", err
	}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == name {
			lb, rb := fset.Position(fn.Body.Lbrace).Offset, fset.Position(fn.Body.Rbrace).Offset
			return string(src[lb+1 : rb]), nil
		}
	}
	return "", fmt.Errorf("%s has no func %s", file, name)
}

// normalizeCode splits code into lines without leading blank lines,
// trailing blank lines or trailing spaces, with leading tabs counted as four
// spaces and the indentation all lines share removed.
func normalizeCode(code string) []string {
	lines := strings.Split(code, "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		trimmed := strings.TrimLeft(l, " \t")
		indent := strings.ReplaceAll(l[:len(l)-len(trimmed)], "\t", "    ")
		lines[i] = indent + trimmed
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	common := -1
	for _, l := range lines {
		if l == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if common < 0 || n < common {
			common = n
		}
	}
	for i, l := range lines {
		if l != "" {
			lines[i] = l[common:]
		}
	}
	return lines
}
