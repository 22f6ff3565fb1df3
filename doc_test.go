package basiq

// Checks that the prose stays true to the code: README's Go blocks compile
// and handle their errors, CHANGELOG agrees with Version, and no document
// cites a source line that the next edit will move.

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goBlocks returns the ```go blocks of a Markdown text, with the line each
// starts on.
func goBlocks(md string) (blocks []string, lines []int) {
	var cur *strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur, start = new(strings.Builder), n+1
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks, lines = append(blocks, cur.String()), append(lines, start)
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks, lines
}

// readmeFreeVars are the names README's blocks use without declaring them:
// what the surrounding application has at hand.
const readmeFreeVars = "ctx context.Context, client *basiq.Client, userID, connID, sessionID string, w http.ResponseWriter, r *http.Request, mux *http.ServeMux, t *testing.T"

// readmeImports maps the package names README's blocks may use to their
// import paths.
var readmeImports = map[string]string{
	"basiqtest": "github.com/basiq-go/basiq/basiqtest",
	"errors":    "errors",
	"fmt":       "fmt",
	"httpmock":  "github.com/jarcoal/httpmock",
	"log":       "log",
	"os":        "os",
	"time":      "time",
	"webhook":   "github.com/basiq-go/basiq/webhook",
}

// parseBlock parses a README block as a function body.
func parseBlock(fset *token.FileSet, name, block string) (*ast.BlockStmt, error) {
	f, err := parser.ParseFile(fset, name, "package p\nfunc _() {\n"+block+"\n}\n", parser.ParseComments)
	if err != nil {
		return nil, err
	}
	return f.Decls[0].(*ast.FuncDecl).Body, nil
}

// blockSource wraps a README block into a file that type-checks on its
// own: a function with readmeFreeVars as parameters, the block in a nested
// scope (it may redeclare them), the imports it names, and a use of each
// variable it declares, since a snippet may stop before using them.
func blockSource(body *ast.BlockStmt, block string) string {
	imports := map[string]bool{"context": true, "net/http": true, "testing": true, "github.com/basiq-go/basiq": true}
	ast.Inspect(body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && readmeImports[id.Name] != "" {
				imports[readmeImports[id.Name]] = true
			}
		}
		return true
	})
	var declared []string
	for _, st := range body.List {
		if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
			for _, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" && id.Name != "err" && !slices.Contains(declared, id.Name) {
					declared = append(declared, id.Name)
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("package readme\n\nimport (\n")
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range imports {
			if !yield(p) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "\t%q\n", p)
	}
	fmt.Fprintf(&b, ")\n\nfunc block(%s) error {\n{\n%s\n", readmeFreeVars, block)
	for _, d := range declared {
		fmt.Fprintf(&b, "_ = %s\n", d)
	}
	b.WriteString("}\nreturn nil\n}\n")
	return b.String()
}

// dropped is a place where a block drops an error.
type dropped struct {
	pos token.Pos
	why string
}

// ignoredErrors lists where a block drops an error: an error result
// assigned to _, an err assigned and not checked against nil by the next
// statement, a range over (value, err) whose body does not check err
// first, or a call whose error result is thrown away (fmt's printing
// functions are exempt). info says which calls return an error.
func ignoredErrors(body *ast.BlockStmt, info *types.Info) []dropped {
	var found []dropped
	isErr := func(e ast.Expr) bool { id, ok := e.(*ast.Ident); return ok && id.Name == "err" }
	checksErr := func(st ast.Stmt) bool {
		ifs, ok := st.(*ast.IfStmt)
		if !ok {
			return false
		}
		checked := false
		ast.Inspect(ifs.Cond, func(n ast.Node) bool {
			if be, ok := n.(*ast.BinaryExpr); ok && (be.Op == token.NEQ || be.Op == token.EQL) && (isErr(be.X) || isErr(be.Y)) {
				checked = true
			}
			return !checked
		})
		return checked
	}
	errType := types.Universe.Lookup("error").Type()
	returnsError := func(e ast.Expr) bool {
		call, ok := e.(*ast.CallExpr)
		if !ok {
			return false
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "fmt" {
				return false
			}
		}
		tv, ok := info.Types[call]
		if !ok || tv.Type == nil {
			return false
		}
		if tup, ok := tv.Type.(*types.Tuple); ok {
			return tup.Len() > 0 && types.Identical(tup.At(tup.Len()-1).Type(), errType)
		}
		return types.Identical(tv.Type, errType)
	}
	var walkList func(list []ast.Stmt)
	walkList = func(list []ast.Stmt) {
		for i, st := range list {
			switch s := st.(type) {
			case *ast.AssignStmt:
				if last, ok := s.Lhs[len(s.Lhs)-1].(*ast.Ident); ok && last.Name == "_" && len(s.Rhs) == 1 && returnsError(s.Rhs[0]) {
					found = append(found, dropped{s.Pos(), "an error result assigned to _"})
				}
				if slices.ContainsFunc(s.Lhs, isErr) && (i+1 == len(list) || !checksErr(list[i+1])) {
					found = append(found, dropped{s.Pos(), "err assigned and not checked against nil by the next statement"})
				}
			case *ast.ExprStmt:
				if returnsError(s.X) {
					found = append(found, dropped{s.Pos(), "the error result of a call is dropped"})
				}
			case *ast.RangeStmt:
				if s.Value != nil && isErr(s.Value) && (len(s.Body.List) == 0 || !checksErr(s.Body.List[0])) {
					found = append(found, dropped{s.Pos(), "a range over (value, err) that does not check err first"})
				}
			}
			ast.Inspect(st, func(n ast.Node) bool {
				switch b := n.(type) {
				case *ast.BlockStmt:
					walkList(b.List)
					return false
				case *ast.CaseClause:
					walkList(b.Body)
					return false
				}
				return true
			})
		}
	}
	walkList(body.List)
	return found
}

// exportImporter imports packages from the export data `go list -export`
// gives for this package, basiqtest, httpmock and their dependencies, so
// that type-checking a README block costs one go list (cached builds) and
// no compile of the block.
func exportImporter(t *testing.T, fset *token.FileSet) types.Importer {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list export data")
	}
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-export", "-deps", "-f", "{{if .Export}}{{.ImportPath}}\t{{.Export}}{{end}}",
		".", "./basiqtest", "./webhook", "github.com/jarcoal/httpmock", "testing")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	exports := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if path, file, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(file)
	})
}

func TestREADMEGoBlocksCompileAndHandleEveryError(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks, lines := goBlocks(string(md))
	require.GreaterOrEqual(t, len(blocks), 3, "README's Go blocks")

	fset := token.NewFileSet()
	imp := exportImporter(t, fset)
	for i, block := range blocks {
		name := fmt.Sprintf("README.md block at line %d", lines[i])
		body, err := parseBlock(fset, name, block)
		if !assert.NoError(t, err, "%s does not parse", name) {
			continue
		}
		src := blockSource(body, block)
		f, err := parser.ParseFile(fset, name, src, 0)
		require.NoError(t, err, src)
		info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
		var typeErrs []string
		conf := types.Config{Importer: imp, Error: func(err error) { typeErrs = append(typeErrs, err.Error()) }}
		_, _ = conf.Check("readme", fset, []*ast.File{f}, info) // its errors are in typeErrs
		assert.Empty(t, typeErrs, "%s does not compile:\n%s", name, src)

		// The block sits in the wrapper's nested scope: its first line is
		// the one after that scope's brace.
		nested := f.Decls[len(f.Decls)-1].(*ast.FuncDecl).Body.List[0].(*ast.BlockStmt)
		first := fset.Position(nested.Lbrace).Line + 1
		for _, d := range ignoredErrors(nested, info) {
			t.Errorf("README.md line %d: %s", lines[i]+fset.Position(d.pos).Line-first, d.why)
		}
	}
}

func TestChangelogLatestReleaseIsVersion(t *testing.T) {
	t.Parallel()
	log, err := os.ReadFile("CHANGELOG.md")
	require.NoError(t, err)
	var headings []string
	for line := range strings.Lines(string(log)) {
		if h, ok := strings.CutPrefix(strings.TrimSpace(line), "## "); ok {
			headings = append(headings, strings.TrimSpace(h))
		}
	}
	require.NotEmpty(t, headings, "CHANGELOG.md has no version headings")
	assert.Equal(t, "Unreleased", headings[0], "the first heading is Unreleased, where changes are added")

	// "## 1.2.3", "## [1.2.3] - 2026-01-02", "## v1.2.3 (2026-01-02)".
	release := regexp.MustCompile(`^\[?v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\]?(?:\s|$)`)
	var released []string
	for _, h := range headings[1:] {
		m := release.FindStringSubmatch(h)
		require.NotNil(t, m, "heading %q is neither Unreleased nor a version", h)
		released = append(released, m[1])
	}
	if len(released) > 0 {
		assert.Equal(t, Version, released[0], "the latest release in CHANGELOG.md is the library's Version")
		return
	}
	// Nothing released yet: README says which version the Unreleased
	// section will become, and that is Version.
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, status, ok := strings.Cut(string(readme), "\n## Status\n")
	require.True(t, ok, "README.md has a Status section")
	assert.Contains(t, status, "Version "+Version+" (`basiq.Version`", "README's Status names Version")
	assert.Contains(t, status, "not released yet")
}

// fileLineRef is a citation of a source line (a Go file's name followed by
// a colon and a line number, by "#L" and one, or by "line" and one), which
// goes stale with the next edit: docs name functions instead.
var fileLineRef = regexp.MustCompile(`\b[\w./-]+\.go(?::\d+|#L\d+|,? lines? \d+)`)

func TestDocsCiteFunctionsNotSourceLines(t *testing.T) {
	t.Parallel()
	var files []string
	for _, pattern := range []string{"*.md", "*.go", "basiqtest/*.md", "basiqtest/*.go", "examples/*/*.go", ".ci/*"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.Contains(t, files, "BENCHMARKS.md")
	fset := token.NewFileSet()
	for _, name := range files {
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		text := string(src)
		if strings.HasSuffix(name, ".go") {
			// Only the comments: code may hold such strings as data.
			f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
			require.NoError(t, err)
			var b strings.Builder
			for _, cg := range f.Comments {
				b.WriteString(cg.Text())
			}
			text = b.String()
		}
		for _, ref := range fileLineRef.FindAllString(text, -1) {
			t.Errorf("%s cites %q: name the function instead", name, ref)
		}
	}
}
