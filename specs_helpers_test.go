package basiq

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// specsDir holds Basiq's published API files, beside the project (see its
// README); they are read at test time, never copied into the project.
var specsDir = filepath.Join("..", "shared", "specs")

// specExample returns, as JSON, the example body Basiq's file (such as
// "v3/core.yml") gives for the answer status of method on path: the example
// named name, or when name is "" the single example or else the first by
// name. The test is
// skipped with a clear message when the files are absent.
func specExample(t *testing.T, file, path, method, status, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(specsDir, file))
	if os.IsNotExist(err) {
		t.Skipf("Basiq's published API files are absent (%s): the test decodes their example bodies", filepath.Join(specsDir, file))
	}
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Example  any `yaml:"example"`
					Examples map[string]struct {
						Value any `yaml:"value"`
					} `yaml:"examples"`
				} `yaml:"content"`
			} `yaml:"responses"`
		} `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc), file)
	content, ok := doc.Paths[path][method].Responses[status].Content["application/json"]
	require.True(t, ok, "%s has no %s %s answer %s", file, method, path, status)
	var v any
	switch {
	case name != "":
		ex, ok := content.Examples[name]
		require.True(t, ok, "%s %s %s %s has no example %q", file, method, path, status, name)
		v = ex.Value
	case content.Example != nil:
		v = content.Example
	default:
		if names := slices.Sorted(maps.Keys(content.Examples)); len(names) > 0 {
			v = content.Examples[names[0]].Value
		}
	}
	require.NotNil(t, v, "%s %s %s %s has no example", file, method, path, status)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// specEnum returns the values Basiq's file (such as "v3/data.yml" or
// "v2/swagger.json") lists for property of schema: under
// components.schemas in OpenAPI 3 files, under definitions in Swagger 2
// files. The test is skipped with a clear message when the files are
// absent, and fails when the schema or property has no enum.
func specEnum(t *testing.T, file, schema, property string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(specsDir, file))
	if os.IsNotExist(err) {
		t.Skipf("Basiq's published API files are absent (%s): the test reads their enums", filepath.Join(specsDir, file))
	}
	require.NoError(t, err)
	type schemas map[string]struct {
		Properties map[string]struct {
			Enum []string `yaml:"enum"`
		} `yaml:"properties"`
	}
	var doc struct {
		Components struct {
			Schemas schemas `yaml:"schemas"`
		} `yaml:"components"`
		Definitions schemas `yaml:"definitions"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc), file) // JSON is YAML too
	s, ok := doc.Components.Schemas[schema]
	if !ok {
		s, ok = doc.Definitions[schema]
	}
	require.True(t, ok, "%s has no schema %s", file, schema)
	enum := s.Properties[property].Enum
	require.NotEmpty(t, enum, "%s: %s.%s has no enum", file, schema, property)
	return enum
}
