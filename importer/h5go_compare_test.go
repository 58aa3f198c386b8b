//go:build cgo

package importer

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/importer/internal/h5ref"
	"github.com/kerasrun/kerasrun/internal/h5"
	"gonum.org/v1/hdf5"
)

// compareFiles lists the files both readers must agree on: every .h5 of
// fixtures/ (less the damaged ones of fixtures/bad that are refused), the
// shared Keras corpora, the layout files of internal/h5/testdata, and the
// model.weights.h5 inside .keras archives.
func compareFiles(t *testing.T) []string {
	var out []string
	for _, dir := range []string{"../fixtures", "../internal/h5/testdata", "../../shared/keras-real", "../../shared/keras-real-3"} {
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			base := filepath.Base(p)
			if strings.Contains(p, "/bad/") && !strings.HasPrefix(base, "ok_") || strings.Contains(p, "not_hdf5") || strings.Contains(p, "_err_") {
				return nil
			}
			if strings.HasSuffix(p, ".h5") || strings.HasSuffix(p, ".keras") {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// TestGoReaderMatchesLibhdf5 walks every file with libhdf5 (h5ref) and with
// the pure-Go reader (internal/h5) and compares every object, link,
// attribute and dataset: names, types, shapes and bytes. It also reads
// every weight the importer's libhdf5 path reads (readFloat32, converted
// by libhdf5) and every string attribute through attrStrings, and compares
// them with the Go reader's conversions bit for bit.
func TestGoReaderMatchesLibhdf5(t *testing.T) {
	if !h5ref.Available {
		t.Skip("the libhdf5 reference needs cgo")
	}
	files := compareFiles(t)
	shared := 0
	for _, p := range files {
		if strings.HasPrefix(p, "../../shared/") {
			shared++
		}
	}
	// CI checks out ../shared beside the repository: there the corpora
	// must be compared, never skipped.
	if os.Getenv("CI") == "true" && shared == 0 {
		t.Fatal("CI=true but no file of ../shared/keras-real or ../shared/keras-real-3 was found")
	}
	if len(files) == 0 {
		t.Skip("no files")
	}
	dir := t.TempDir()
	var objects, datasets, attrs, bytesCompared, viaImporter int
	for _, p := range files {
		path := p
		if strings.HasSuffix(p, ".keras") {
			var err error
			if path, err = extractKerasWeights(p, dir); err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			if path == "" {
				continue
			}
		}
		ref, err := h5ref.Walk(path)
		if err != nil {
			t.Errorf("%s: libhdf5: %v", p, err)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// From memory: the Go reader needs no file.
		f, err := h5.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Errorf("%s: go: %v", p, err)
			continue
		}
		got, err := goWalk(f)
		if err != nil {
			t.Errorf("%s: go: %v", p, err)
			continue
		}
		if err := compareWalks(ref, got); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, o := range ref {
			objects++
			attrs += len(o.Attrs)
			if o.Kind == 1 {
				datasets++
				bytesCompared += len(o.Raw)
			}
		}
		checked, err := compareImporterPath(path, f, ref)
		if err != nil {
			t.Errorf("%s: importer path: %v", p, err)
		}
		if checked {
			viaImporter++
		} else {
			t.Logf("%s: the importer's checks refuse the file; compared with libhdf5 only", p)
		}
	}
	t.Logf("%d files: %d objects, %d datasets (%d bytes), %d attributes agree; %d files (%d float32 values) also through the importer's path", len(files), objects, datasets, bytesCompared, attrs, viaImporter, importerValues)
}

// extractKerasWeights writes the model.weights.h5 of a .keras archive to dir;
// "" when it has none. A .keras file that is HDF5 itself is returned as is.
func extractKerasWeights(p, dir string) (string, error) {
	head := make([]byte, 8)
	if fh, err := os.Open(p); err == nil {
		fh.Read(head)
		fh.Close()
	}
	if bytes.Equal(head, hdf5Signature) {
		return p, nil
	}
	z, err := zip.OpenReader(p)
	if err != nil {
		return "", err
	}
	defer z.Close()
	for _, e := range z.File {
		if e.Name != "model.weights.h5" {
			continue
		}
		r, err := e.Open()
		if err != nil {
			return "", err
		}
		defer r.Close()
		b, err := io.ReadAll(io.LimitReader(r, 1<<30))
		if err != nil {
			return "", err
		}
		out := filepath.Join(dir, strings.NewReplacer("/", "_", ".", "_").Replace(p)+".h5")
		return out, os.WriteFile(out, b, 0o644)
	}
	return "", nil
}

// goWalk mirrors h5ref.Walk with the Go reader: objects depth first by
// hard links in name order, each once.
func goWalk(f *h5.File) ([]h5ref.Object, error) {
	root, err := f.Root()
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	var out []h5ref.Object
	var walkGroup func(g *h5.Group, path string) error
	walkGroup = func(g *h5.Group, path string) error {
		seen[g.Addr()] = true
		obj := h5ref.Object{Path: path, Kind: 0, Addr: g.Addr()}
		if err := goAttrs(&obj, g.Attributes); err != nil {
			return err
		}
		links, err := g.Members()
		if err != nil {
			return err
		}
		for _, l := range links {
			obj.Links = append(obj.Links, h5ref.Link{Name: l.Name, Type: int(l.Type)})
		}
		out = append(out, obj)
		for _, l := range links {
			if l.Type != h5.LinkHard || seen[l.Addr] {
				continue
			}
			p := path + "/" + l.Name
			if path == "/" {
				p = "/" + l.Name
			}
			k, err := g.Kind(l.Name)
			if err != nil {
				return err
			}
			switch k {
			case h5.KindGroup:
				sub, err := g.OpenGroup(l.Name)
				if err != nil {
					return err
				}
				if err := walkGroup(sub, p); err != nil {
					return err
				}
			case h5.KindDataset:
				d, err := g.OpenDataset(l.Name)
				if err != nil {
					return err
				}
				seen[d.Addr()] = true
				o := h5ref.Object{Path: p, Kind: 1, Addr: d.Addr(), Type: refType(d.Type()), Space: int(d.Space()), Dims: d.Dims()}
				if err := goAttrs(&o, d.Attributes); err != nil {
					return err
				}
				if d.Len() > 0 && !d.Type().VarLen {
					if o.Raw, err = d.ReadRaw(); err != nil {
						return err
					}
				}
				out = append(out, o)
			default:
				return fmt.Errorf("%s: an object that is neither a group nor a dataset", p)
			}
		}
		return nil
	}
	return out, walkGroup(root, "/")
}

func refType(t h5.Datatype) h5ref.Type {
	cls := 0
	switch t.Class {
	case h5.ClassInteger:
		cls = 0
	case h5.ClassFloat:
		cls = 1
	case h5.ClassString:
		cls = 3
	default:
		cls = t.RawClass
	}
	return h5ref.Type{Class: cls, Size: t.Size, BigEndian: t.BigEndian, Signed: t.Signed, VarLen: t.VarLen, Pad: t.Pad, CharSet: t.CharSet}
}

func goAttrs(o *h5ref.Object, list func() ([]*h5.Attribute, error)) error {
	as, err := list()
	if err != nil {
		return err
	}
	for _, a := range as {
		ra := h5ref.Attr{Name: a.Name, Type: refType(a.Type), Space: int(a.Space), Dims: a.Dims}
		if a.Len() > 0 {
			if a.Type.VarLen {
				if ra.Strings, err = a.Strings(); err != nil {
					return err
				}
				// libhdf5 hands out C strings, which end at a NUL.
				for i, s := range ra.Strings {
					if j := strings.IndexByte(s, 0); j >= 0 {
						ra.Strings[i] = s[:j]
					}
				}
			} else {
				ra.Raw = a.Raw()
			}
		}
		o.Attrs = append(o.Attrs, ra)
	}
	return nil
}

func compareType(what string, want, got h5ref.Type) error {
	if want.VarLen {
		// libhdf5 reports a variable-length string's in-memory size.
		got.Size = want.Size
	}
	if want.Class != 0 && want.Class != 1 {
		want.BigEndian, want.Signed = false, false
		got.BigEndian, got.Signed = false, false
	}
	if want.Class != 3 {
		want.Pad, want.CharSet, got.Pad, got.CharSet = 0, 0, 0, 0
	}
	if want != got {
		return fmt.Errorf("%s: type %+v, libhdf5 %+v", what, got, want)
	}
	return nil
}

func compareWalks(ref, got []h5ref.Object) error {
	if len(ref) != len(got) {
		var rp, gp []string
		for _, o := range ref {
			rp = append(rp, o.Path)
		}
		for _, o := range got {
			gp = append(gp, o.Path)
		}
		return fmt.Errorf("%d objects, libhdf5 %d:\n go  %v\n lib %v", len(got), len(ref), gp, rp)
	}
	for i := range ref {
		r, g := &ref[i], &got[i]
		if r.Path != g.Path || r.Kind != g.Kind || r.Addr != g.Addr {
			return fmt.Errorf("object %d: %s kind %d at %d, libhdf5 %s kind %d at %d", i, g.Path, g.Kind, g.Addr, r.Path, r.Kind, r.Addr)
		}
		if !slices.Equal(r.Links, g.Links) {
			return fmt.Errorf("%s: links %v, libhdf5 %v", g.Path, g.Links, r.Links)
		}
		if len(r.Attrs) != len(g.Attrs) {
			return fmt.Errorf("%s: %d attributes, libhdf5 %d", g.Path, len(g.Attrs), len(r.Attrs))
		}
		for j := range r.Attrs {
			ra, ga := &r.Attrs[j], &g.Attrs[j]
			what := fmt.Sprintf("%s: attribute %q", g.Path, ga.Name)
			if ra.Name != ga.Name {
				return fmt.Errorf("%s: attribute %d is %q, libhdf5 %q", g.Path, j, ga.Name, ra.Name)
			}
			if err := compareType(what, ra.Type, ga.Type); err != nil {
				return err
			}
			if ra.Space != ga.Space || !slices.Equal(ra.Dims, ga.Dims) {
				return fmt.Errorf("%s: space %d %v, libhdf5 %d %v", what, ga.Space, ga.Dims, ra.Space, ra.Dims)
			}
			if !bytes.Equal(ra.Raw, ga.Raw) || !slices.Equal(ra.Strings, ga.Strings) {
				return fmt.Errorf("%s: values differ: %q %q, libhdf5 %q %q", what, truncBytes(ga.Raw), ga.Strings, truncBytes(ra.Raw), ra.Strings)
			}
		}
		if r.Kind == 1 {
			if err := compareType(g.Path, r.Type, g.Type); err != nil {
				return err
			}
			if r.Space != g.Space || !slices.Equal(r.Dims, g.Dims) {
				return fmt.Errorf("%s: space %d %v, libhdf5 %d %v", g.Path, g.Space, g.Dims, r.Space, r.Dims)
			}
			if !bytes.Equal(r.Raw, g.Raw) {
				return fmt.Errorf("%s: data differ (%d bytes, libhdf5 %d)", g.Path, len(g.Raw), len(r.Raw))
			}
		}
	}
	return nil
}

func truncBytes(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// compareImporterPath reads every dataset that the importer's libhdf5 path
// reads as a weight, converted to float32 by libhdf5, and every string
// attribute through attrStrings, and compares them with the Go reader's
// ReadFloat32 and Strings. checked is false when the importer's own checks
// refuse the file.
func compareImporterPath(path string, f *h5.File, ref []h5ref.Object) (checked bool, err error) {
	defer h5lock()()
	hf, err := h5open(path)
	if err != nil {
		return false, nil
	}
	defer hf.Close()
	return true, compareOpened(hf, f, ref)
}

func compareOpened(hf *hdf5.File, f *h5.File, ref []h5ref.Object) error {
	root, err := f.Root()
	if err != nil {
		return err
	}
	for _, o := range ref {
		switch o.Kind {
		case 0:
			g, err := hf.OpenGroup(o.Path)
			if err != nil {
				return fmt.Errorf("%s: open", o.Path)
			}
			gg, err := root.OpenGroup(o.Path)
			if err != nil {
				g.Close()
				return err
			}
			for _, a := range o.Attrs {
				if a.Type.Class != 3 {
					continue
				}
				want, ok, err := attrStrings(g.Identifier, a.Name)
				if err != nil || !ok {
					continue // refused by the importer's checks
				}
				ga, err := gg.Attribute(a.Name)
				if err != nil {
					g.Close()
					return err
				}
				got, err := ga.Strings()
				if err != nil {
					g.Close()
					return err
				}
				for i := range got {
					got[i] = strings.TrimRight(got[i], " ")
				}
				if !slices.Equal(want, got) {
					g.Close()
					return fmt.Errorf("%s: attribute %q: %q, attrStrings %q", o.Path, a.Name, got, want)
				}
			}
			g.Close()
		case 1:
			dirName, base := filepath.Split(o.Path)
			g, err := hf.OpenGroup(dirName)
			if err != nil {
				return fmt.Errorf("%s: open", dirName)
			}
			info, err := statFloat32(g, base)
			if err != nil {
				g.Close()
				continue // a type the importer does not read
			}
			want, err := readFloat32(g, base, info)
			g.Close()
			if err != nil {
				return fmt.Errorf("%s: readFloat32: %v", o.Path, err)
			}
			d, err := root.OpenDataset(o.Path)
			if err != nil {
				return err
			}
			got, err := d.ReadFloat32()
			if err != nil {
				return err
			}
			if len(got) != len(want) {
				return fmt.Errorf("%s: %d values, readFloat32 %d", o.Path, len(got), len(want))
			}
			importerValues += len(got)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					return fmt.Errorf("%s: value %d is %v (%#x), readFloat32 %v (%#x)", o.Path, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
		}
	}
	return nil
}

// datasetPaths lists the datasets of the file at path, by the Go reader.
func datasetPaths(b *testing.B, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	f, err := h5.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	objs, err := goWalk(f)
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		if o.Kind == 1 {
			out = append(out, o.Path)
		}
	}
	return out
}

var readSink float32

// importerValues counts the values compared with readFloat32.
var importerValues int

// BenchmarkReadW3 reads every dataset of the perf workload W3 (about 17 MB
// of float32 weights) converted to float32, from opening the file to the
// last value: through libhdf5 as the importer does (statFloat32 and
// readFloat32), and through the pure-Go reader from an os.File.
func BenchmarkReadW3(b *testing.B) {
	path := filepath.Join(perfWorkloads(b), "W3.h5")
	paths := datasetPaths(b, path)
	b.Run("reader=libhdf5", func(b *testing.B) {
		for b.Loop() {
			func() {
				defer h5lock()()
				hf, err := h5open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer hf.Close()
				for _, p := range paths {
					dir, base := filepath.Split(p)
					g, err := hf.OpenGroup(dir)
					if err != nil {
						b.Fatal(err)
					}
					info, err := statFloat32(g, base)
					if err != nil {
						b.Fatal(err)
					}
					v, err := readFloat32(g, base, info)
					g.Close()
					if err != nil {
						b.Fatal(err)
					}
					readSink += v[len(v)-1]
				}
			}()
		}
	})
	b.Run("reader=go", func(b *testing.B) {
		for b.Loop() {
			fh, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			st, _ := fh.Stat()
			f, err := h5.Open(fh, st.Size())
			if err != nil {
				b.Fatal(err)
			}
			root, err := f.Root()
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range paths {
				d, err := root.OpenDataset(p)
				if err != nil {
					b.Fatal(err)
				}
				v, err := d.ReadFloat32()
				if err != nil {
					b.Fatal(err)
				}
				readSink += v[len(v)-1]
			}
			fh.Close()
		}
	})
}
