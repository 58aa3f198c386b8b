package h5

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// walkAll opens every object reachable from the root by hard links and
// reads every attribute and dataset, calling visit for each. It is what
// the fuzzer and the corpus tests run.
func walkAll(f *File, visit func(path string, a *Attribute, d *Dataset, data []byte)) error {
	root, err := f.Root()
	if err != nil {
		return err
	}
	seen := map[uint64]bool{}
	var walk func(g *Group, depth int) error
	attrs := func(path string, o *object) error {
		as, err := o.Attributes()
		if err != nil {
			return err
		}
		for _, a := range as {
			switch a.Type.Class {
			case ClassString:
				if _, err := a.Strings(); err != nil {
					return err
				}
			case ClassInteger, ClassFloat:
				if _, err := a.Float64s(); err != nil {
					return err
				}
			}
			if visit != nil {
				visit(path, a, nil, nil)
			}
		}
		return nil
	}
	walk = func(g *Group, depth int) error {
		if depth > 32 {
			return errors.New("too deep")
		}
		if err := attrs(g.path, &g.object); err != nil {
			return err
		}
		links, err := g.Members()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Type != LinkHard || seen[l.Addr] {
				continue
			}
			seen[l.Addr] = true
			k, err := g.Kind(l.Name)
			if err != nil {
				return err
			}
			switch k {
			case KindGroup:
				sub, err := g.OpenGroup(l.Name)
				if err != nil {
					return err
				}
				if err := walk(sub, depth+1); err != nil {
					return err
				}
			case KindDataset:
				d, err := g.OpenDataset(l.Name)
				if err != nil {
					return err
				}
				if err := attrs(d.path, &d.object); err != nil {
					return err
				}
				raw, err := d.ReadRaw()
				if err != nil {
					return err
				}
				if d.typ.Class == ClassInteger || d.typ.Class == ClassFloat {
					if _, err := d.ReadFloat32(); err != nil {
						return err
					}
				}
				if visit != nil {
					visit(d.path, nil, d, raw)
				}
			}
		}
		return nil
	}
	return walk(root, 0)
}

// corpusFiles lists the .h5 files of the fixtures and of the shared Keras
// corpora that exist on this machine.
func corpusFiles(t testing.TB) []string {
	var out []string
	for _, dir := range []string{"../../fixtures", "testdata", "../../../shared/keras-real", "../../../shared/keras-real-3"} {
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".h5") {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

func openPath(t testing.TB, p string) (*File, error) {
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return Open(fh, st.Size())
}

// TestCorpusWalks reads every object of every corpus file; files under
// fixtures/bad that are meant to be refused may fail, others must not.
func TestCorpusWalks(t *testing.T) {
	files := corpusFiles(t)
	if len(files) == 0 {
		t.Skip("no corpus")
	}
	var fails int
	for _, p := range files {
		f, err := openPath(t, p)
		if err == nil {
			err = walkAll(f, nil)
		}
		if err != nil {
			if strings.Contains(p, "/bad/") || strings.Contains(p, "not_hdf5") {
				t.Logf("%s: %v", p, err)
				continue
			}
			fails++
			t.Errorf("%s: %v", p, err)
		}
	}
	t.Logf("%d files, %d failed", len(files), fails)
}
