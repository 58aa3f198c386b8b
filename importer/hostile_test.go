package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
)

// badCase is one entry of fixtures/bad/MANIFEST.json (tools/gen_badfiles.py).
type badCase struct {
	File   string   `json:"file"`
	API    string   `json:"api"`
	Expect string   `json:"expect"`
	Want   []string `json:"want"`
	Notes  string   `json:"notes"`
}

var badDir = filepath.Join("..", "fixtures", "bad")

// maxBadFileAlloc bounds the Go memory that loading one bad file (each a
// few KiB) may allocate.
const maxBadFileAlloc = 8 << 20

func readBadManifest(t *testing.T) []badCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(badDir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []badCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 25 {
		t.Fatalf("only %d bad files in the manifest", len(cases))
	}
	return cases
}

// TestBadFiles loads every file of the bad-file corpus (fixtures/bad, made
// by tools/gen_badfiles.py). Each must fail fast with an error that names
// the file and says what is wrong, or load when the manifest says so. Load
// and Inspect must leave no HDF5 object open.
func TestBadFiles(t *testing.T) {
	before := openObjects()
	for _, c := range readBadManifest(t) {
		t.Run(strings.TrimSuffix(c.File, ".h5"), func(t *testing.T) {
			path := filepath.Join(badDir, c.File)
			// Failing fast is checked by the work done, not the time taken:
			// the Go memory Load allocates must stay small, so a size the
			// file claims is never trusted.
			var ms0, ms1 goruntime.MemStats
			goruntime.ReadMemStats(&ms0)
			var err error
			switch c.API {
			case "load":
				_, err = Load(path, nil)
			default:
				t.Fatalf("unknown api %q", c.API)
			}
			goruntime.ReadMemStats(&ms1)
			n := ms1.TotalAlloc - ms0.TotalAlloc
			t.Logf("allocated %d bytes", n)
			if n > maxBadFileAlloc {
				t.Errorf("Load allocated %d bytes, more than %d", n, maxBadFileAlloc)
			}
			switch c.Expect {
			case "ok":
				if err != nil {
					t.Fatalf("%v (%s)", err, c.Notes)
				}
			case "error":
				wantMessage(t, err, path, c.Want...)
				if err != nil {
					t.Logf("%s", err)
				}
			default:
				t.Fatalf("unknown expect %q", c.Expect)
			}
			// Inspect reads the same bytes another way; it must not crash
			// either (its error, if any, is not checked here).
			_, _ = Inspect(path)
			if now := openObjects(); now != before {
				t.Errorf("%d HDF5 objects open, %d before", now, before)
				before = now
			}
		})
	}
}

// TestBadFilesAreGenerated regenerates the bad-file corpus with
// tools/gen_badfiles.py and checks that the committed files are exactly what
// it writes.
func TestBadFilesAreGenerated(t *testing.T) {
	needH5py(t)
	out := t.TempDir()
	cmd := exec.Command(python, filepath.Join("..", "tools", "gen_badfiles.py"), "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen_badfiles.py: %v\n%s", err, b)
	}
	gen, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadDir(badDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(gen) != len(committed) {
		t.Errorf("tools/gen_badfiles.py writes %d files, fixtures/bad has %d", len(gen), len(committed))
	}
	for _, e := range gen {
		want, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(badDir, e.Name()))
		if err != nil {
			t.Errorf("%s: generated but not committed: %v", e.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the committed file differs from what tools/gen_badfiles.py writes", e.Name())
		}
	}
}

// TestKnownLibhdf5Crashers loads the mutated Keras files that crashed or
// hung libhdf5 1.10 before kerasrun checked object headers, global heaps,
// compact datasets and external links itself (testdata/fuzz/FuzzLoad/
// libhdf5_*, found by fuzzing): each must now be refused by those checks,
// before libhdf5 decodes the damage. Without libhdf5 in the build the Go
// reader reads them; it must refuse each as corrupt, in its own words.
func TestKnownLibhdf5Crashers(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzLoad", "libhdf5_*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no crashers: %v", err)
	}
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		lit := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")")
		data, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		path := filepath.Join(dir, filepath.Base(f)+".h5")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = Load(path, nil)
		if haveLibhdf5 {
			wantMessage(t, err, path, "corrupt HDF5 file")
		} else if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want an ErrCorrupt", filepath.Base(f), err)
		}
		t.Logf("%s: %v", filepath.Base(f), err)
	}
}
