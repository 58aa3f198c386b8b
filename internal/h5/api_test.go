package h5

import (
	"bytes"
	"errors"
	"math"
	"os"
	"slices"
	"testing"
)

func openTestdata(t *testing.T, name string) *Group {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return openBytes(t, b)
}

// openBytes opens the HDF5 file b holds and returns its root group.
func openBytes(t *testing.T, b []byte) *Group {
	t.Helper()
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	root, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestStringAttributes reads the string attributes that
// tools/gen_h5_layouts.py writes, in every form, compact and dense.
func TestStringAttributes(t *testing.T) {
	for _, file := range []string{"sb0_contiguous_types_strings.h5", "sb3_dense_groups_attrs.h5", "sb0_userblock.h5"} {
		root := openTestdata(t, file)
		for name, want := range map[string][]string{
			"vlen_ascii":        {"hello"},
			"vlen_utf8":         {"h\u00e9llo \u2603"},
			"vlen_array":        {"a", "bb", "", "dddd"},
			"vlen_ascii_array":  {"x", "yy"},
			"fixed_nullpad":     {"dense_1"},
			"fixed_array":       {"dense_1", "lstm", "a_full_name"},
			"fixed_nullterm":    {"ab", "full_length_"},
			"fixed_spacepad":    {"ab", "full_length_"},
			"empty_float_array": nil,
			"empty":             nil,
		} {
			a, err := root.Attribute(name)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got, err := a.Strings()
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("%s: %s = %q, %v; want %q", file, name, got, err, want)
			}
		}
		a, err := root.Attribute("array_f32_be")
		if err != nil {
			t.Fatal(err)
		}
		v, err := a.Float64s()
		if err != nil || !slices.Equal(v, []float64{0, 1, 2, 3, 4, 5}) || !slices.Equal(a.Dims, []uint64{2, 3}) {
			t.Errorf("%s: array_f32_be = %v %v, %v", file, v, a.Dims, err)
		}
		a, _ = root.Attribute("scalar_i8")
		if v, err := a.Float64s(); err != nil || !slices.Equal(v, []float64{-5}) || a.Space != SpaceScalar {
			t.Errorf("%s: scalar_i8 = %v, %v", file, v, err)
		}
		a, _ = root.Attribute("array_f16")
		if v, err := a.Float64s(); err != nil || !slices.Equal(v, []float64{0.5, -2, 65504, float64(half(1))}) {
			t.Errorf("%s: array_f16 = %v, %v", file, v, err)
		}
		if _, err := root.Attribute("absent"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: absent attribute: %v", file, err)
		}
	}
}

// TestLinks checks member order and that soft and external links are
// listed but never followed.
func TestLinks(t *testing.T) {
	root := openTestdata(t, "sb0_contiguous_types_strings.h5")
	links, err := root.Members()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	if want := []string{"external", "f16_special", "f16_special_be", "f64_special", "i64_special", "many_members_old_style", "null", "scalar", "soft", "types", "u64_special", "zero_length"}; !slices.Equal(names, want) {
		t.Errorf("members %q, want %q", names, want)
	}
	for _, p := range []string{"soft", "external", "soft/le_f4"} {
		if _, err := root.OpenDataset(p); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", p, err)
		}
	}
	if _, err := root.OpenGroup("types/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing member: %v", err)
	}
	d, err := root.OpenDataset("/types/be_f4")
	if err != nil {
		t.Fatal(err)
	}
	if tp := d.Type(); tp.Class != ClassFloat || !tp.BigEndian || tp.Size != 4 || !slices.Equal(d.Dims(), []uint64{5, 7}) {
		t.Errorf("be_f4: %v %v", tp, d.Dims())
	}
	s, err := root.OpenDataset("scalar")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.ReadFloat32(); err != nil || !slices.Equal(v, []float32{2.5}) || s.Space() != SpaceScalar {
		t.Errorf("scalar: %v, %v", v, err)
	}
}

// TestTruncatedIsCorrupt cuts a file at every 97th byte: each cut opens
// and walks with an error matching ErrCorrupt, or succeeds (a cut past
// everything the walk reads).
func TestTruncatedIsCorrupt(t *testing.T) {
	b, err := os.ReadFile("testdata/sb0_chunked_btree1_filters.h5")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n += 97 {
		f, err := Open(bytes.NewReader(b[:n]), int64(n))
		if err == nil {
			err = walkAll(f, nil)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: %v does not match ErrCorrupt", n, err)
		}
	}
}

func TestHalf(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x03ff, 6.097555e-05}, {0x8000, float32(math.Copysign(0, -1))}, {0x7c00, float32(math.Inf(1))}} {
		if got := half(c.h); math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("half(%#x) = %v, want %v", c.h, got, c.want)
		}
	}
	for h, want := range map[uint16]uint32{0x7e00: 0x7fffffff, 0x7c01: 0x7fffffff, 0xfe00: 0xffffffff} {
		if got := math.Float32bits(half(h)); got != want {
			t.Errorf("half(%#x) = %#x, want %#x as libhdf5", h, got, want)
		}
	}
	if got := math.Float32bits(narrow(3.4028235e38)); got != 0x7f800000 {
		t.Errorf("narrow(3.4028235e38) = %#x, want +Inf as libhdf5", got)
	}
}

// TestConcurrentWalks walks one File from several goroutines: its caches
// are shared (run with -race).
func TestConcurrentWalks(t *testing.T) {
	b, err := os.ReadFile("testdata/sb3_dense_groups_attrs.h5")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- walkAll(f, nil) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestAttributeLookupOrder checks that Attribute reads the attribute
// messages as libhdf5 does, in header order up to the one it looks for: a
// damaged message (a NUL inside its name, which libhdf5 refuses) is an
// error for the attributes after it and for an absent one, and unseen by
// those before it.
func TestAttributeLookupOrder(t *testing.T) {
	b, err := os.ReadFile("testdata/sb0_contiguous_types_strings.h5")
	if err != nil {
		t.Fatal(err)
	}
	all, err := openBytes(t, b).Attributes()
	if err != nil {
		t.Fatal(err)
	}
	// The file's one object header block holds the messages in file order.
	type placed struct {
		name string
		off  int
	}
	var order []placed
	for _, a := range all {
		if key := []byte(a.Name + "\x00"); bytes.Count(b, key) == 1 {
			order = append(order, placed{a.Name, bytes.Index(b, key)})
		}
	}
	slices.SortFunc(order, func(x, y placed) int { return x.off - y.off })
	if len(order) < 5 {
		t.Fatalf("only %d attributes found at one place in the file", len(order))
	}
	mid := len(order) / 2
	damaged := slices.Clone(b)
	damaged[order[mid].off+1] = 0
	root := openBytes(t, damaged)
	for i, p := range order {
		_, err := root.Attribute(p.name)
		switch {
		case i < mid && err != nil:
			t.Errorf("%q, before the damaged %q: %v", p.name, order[mid].name, err)
		case i >= mid && (err == nil || errors.Is(err, ErrNotFound)):
			t.Errorf("%q, at or after the damaged %q: error %v, want one about the damage", p.name, order[mid].name, err)
		}
	}
	if _, err := root.Attribute("absent"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("an absent attribute past the damage: error %v, want one about the damage", err)
	}
}
