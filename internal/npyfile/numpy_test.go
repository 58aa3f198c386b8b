package npyfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// numpyScript loads each file named on stdin with numpy.load, as a user
// would, and prints one JSON line per file: numpy's verdict, the header's
// own shape and descr, and the values as float32 in C order.
const numpyScript = `
import json, sys, warnings
import numpy as np
from numpy.lib import format as npformat
warnings.simplefilter("ignore")
for line in sys.stdin:
    p = line.strip()
    r = {"file": p}
    try:
        a = np.load(p, allow_pickle=False)
        with open(p, "rb") as f:
            v = npformat.read_magic(f)
            shape, fortran, dt = npformat._read_array_header(f, v)
            off = f.tell()
            f.seek(0, 2)
            size = f.tell()
        r["ok"] = True
        r["header_shape"] = list(shape)
        r["shape"] = list(a.shape)
        r["kind"] = a.dtype.kind
        r["extra"] = size - off - a.nbytes
        r["fits"] = bool(a.dtype.kind not in "iu" or a.size == 0 or np.abs(a.astype(np.float64)).max() <= 2**24)
        if a.dtype.kind in "fiub":
            r["f32"] = np.ascontiguousarray(a.astype("<f4")).tobytes().hex()
    except BaseException as e:
        r["ok"] = False
        r["err"] = type(e).__name__ + ": " + str(e)[:200]
    print(json.dumps(r), flush=True)
`

type numpyResult struct {
	File        string `json:"file"`
	OK          bool   `json:"ok"`
	Err         string `json:"err"`
	HeaderShape []int  `json:"header_shape"`
	Shape       []int  `json:"shape"`
	Kind        string `json:"kind"`
	Extra       int64  `json:"extra"`
	Fits        bool   `json:"fits"`
	F32         string `json:"f32"`
}

// ourDescr is the descr strings we read (see parseDescr).
var ourDescr = regexp.MustCompile(`^[<>|=]?(f[248]|[iu][1248]|b1)$`)

// TestNumpyDifferential checks the reader against numpy.load on the
// numpy-written seeds of FuzzDecode and on files derived from them:
// truncated, extended, with a wrong header length, with header bytes
// replaced, and with headers rewritten in the many spellings Python's
// literal syntax allows. Every file numpy refuses, we refuse. Every file
// numpy reads, we read to the same float32 values, unless it is one that
// the package documents we refuse: bytes after the data, a negative
// dimension, an integer beyond 2^24, a dtype we do not read.
func TestNumpyDifferential(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("python3 with numpy not available: %v %s", err, out)
	}
	seeds := loadSeeds(t)
	if len(seeds) == 0 {
		t.Fatal("no numpy-* seeds in testdata/fuzz/FuzzDecode (tools/gen_npy_seeds.py writes them)")
	}
	files := derive(seeds)
	if testing.Short() {
		files = files[:len(files)/8]
	}
	dir := t.TempDir()
	var list bytes.Buffer
	for i, f := range files {
		p := filepath.Join(dir, fmt.Sprintf("%05d.npy", i))
		if err := os.WriteFile(p, f, 0o644); err != nil {
			t.Fatal(err)
		}
		list.WriteString(p + "\n")
	}
	cmd := exec.Command(py, "-c", numpyScript)
	cmd.Stdin = &list
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	n, accepted := 0, 0
	for sc.Scan() {
		var r numpyResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		i, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(r.File), ".npy"))
		data := files[i]
		got, descr, err := Decode(bytes.NewReader(data), int64(len(data)))
		n++
		show := func() string {
			if len(data) > 300 {
				return strconv.Quote(string(data[:300])) + "..."
			}
			return strconv.Quote(string(data))
		}
		if !r.OK {
			if err == nil {
				t.Errorf("numpy refuses %s (%s), we read shape %v", show(), r.Err, got.Shape)
			}
			continue
		}
		if err != nil {
			negative := false
			for _, d := range r.HeaderShape {
				negative = negative || d < 0
			}
			excused := r.Extra > 0 || negative || !r.Fits || !strings.Contains("fiub", r.Kind) ||
				descr != "" && !ourDescr.MatchString(descr) ||
				strings.Contains(err.Error(), "unsupported dtype") && !ourDescr.MatchString(descr) ||
				strings.Contains(err.Error(), "backslash outside the header's brackets") ||
				strings.Contains(err.Error(), `\N{...} escape`)
			if !excused {
				t.Errorf("numpy reads %s as shape %v, we refuse it: %v", show(), r.Shape, err)
			}
			continue
		}
		accepted++
		if r.Extra != 0 {
			t.Errorf("we read %s, which has %d bytes after its data", show(), r.Extra)
		}
		if fmt.Sprint(got.Shape) != fmt.Sprint(r.Shape) && !(len(r.Shape) == 0 && len(got.Shape) == 0) {
			t.Errorf("%s: shape %v, numpy %v", show(), got.Shape, r.Shape)
			continue
		}
		want, _ := hex.DecodeString(r.F32)
		if len(want) != 4*len(got.Data) {
			t.Errorf("%s: %d values, numpy %d", show(), len(got.Data), len(want)/4)
			continue
		}
		for k, v := range got.Data {
			w := math.Float32frombits(binary.LittleEndian.Uint32(want[4*k:]))
			if v != w && !(v != v && w != w) || math.Signbit(float64(v)) != math.Signbit(float64(w)) && v == v {
				t.Errorf("%s: [%d] = %v, numpy %v", show(), k, v, w)
				break
			}
		}
	}
	if n != len(files) {
		t.Fatalf("numpy answered for %d of %d files\n%s", n, len(files), stderr.String())
	}
	t.Logf("%d files, %d read by both", n, accepted)
	if accepted < len(seeds) {
		t.Errorf("only %d files read by both: the derived files barely exercise the reader", accepted)
	}
}

// loadSeeds reads the numpy-* files of the fuzz corpus.
func loadSeeds(t *testing.T) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "numpy-*"))
	var seeds [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a fuzz corpus file", p)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// spellings are header dictionaries in the spellings Python's literal
// syntax allows (and some it refuses), for 48 bytes of data. %s is the
// descr, %d the first dimension.
var spellings = []string{
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }",
	"{\"descr\": \"%s\", \"fortran_order\": False, \"shape\": (%d,)}",
	"  {'descr': '%s', 'fortran_order': False, 'shape': (%d,), }\n",
	"\n{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }",
	"\n  {'descr': '%s', 'fortran_order': False, 'shape': (%d,), }",
	"\f{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }",
	"# c\n{'descr': '%s', 'fortran_order': False, 'shape': (%d,), } # c\n  \n",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }\n 1",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), };",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), },",
	"{'descr':\t'%s',\r\n'fortran_order': False,\r'shape': (%d,), }\r\n",
	"{'descr': '%s', # c\n 'fortran_order': False, \\\n 'shape': (%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%dL,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d L,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%dl,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), 'shape': (%d,)}",
	"{'descr': '%s', 'fortran_order': False, 'shape': ((%d),), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': [%d], }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (+%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (- -%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (-(-%d),), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d.0,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d, True), }",
	"{'descr': '%s', 'fortran_order': 0, 'shape': (%d,), }",
	"{'descr': '%s', 'fortran_order': None, 'shape': (%d,), }",
	"{'descr': '%s', 'shape': (%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), 'x': 1}",
	"{u'descr': U'%s', 'fortran_order': False, r'shape': (%d,), }",
	"{b'descr': '%s', 'fortran_order': False, 'shape': (%d,), }",
	"{'descr': '''%s''', 'fortran_order': False, 'shape': (%d,), }",
	"{'de' \"scr\": '%s', 'fortran_order': False, 'shape': (%d,), }",
	"{'descr': '%s' 'fortran_order': False, 'shape': (%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), ",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }}",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,),, }",
	"['descr', '%s', 'fortran_order', False, 'shape', (%d,)]",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }\x00",
	"{'descr': '%s', 'fortran_order': False,\v'shape': (%d,), }",
	"{'descr': '%s', 'fortran_order': False,\xa0'shape': (%d,), }",
	"{'descr': '%s\xe9', 'fortran_order': False, 'shape': (%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), } # \xe9",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), 'x': {1}}",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), 'x': 1.5}",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d,), 'x': x}",
	"{'descr': ('%s', (2,)), 'fortran_order': False, 'shape': (%d,), }",
	"{'descr': [('a', '%s')], 'fortran_order': False, 'shape': (%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d, 0), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (%d, 1, 1), }",
	"{'descr': '%s', 'fortran_order': True, 'shape': (%d, 1), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (-%d,), }",
	"{'descr': '%s', 'fortran_order': False, 'shape': (1, 99999999999999999999999, %d), }",
}

// numbers are spellings of an int n: %d is n.
var numbers = []string{"%d", "0x%x", "0X%X", "0o%o", "0b%b", "0_%d", "00%d", "%d_", "0x_%x", "%d__0"}

// descrs are dtype descriptions to put in the spellings.
var descrs = []string{"<f4", ">f4", "|f4", "=f4", "f4", "<f8", ">f8", "<f2", "<i1", "|u1", "<i2", ">i2",
	"<i4", "<u4", "<i8", ">u8", "|b1", "<f", "float32", "<c8", "<U1", "|S4", "<f16", "<f3", "<i3", "<M8[s]",
	"O", " <f4", "<f4 ", "\\x3cf4", "<f\\\n4", "\\N{LESS-THAN SIGN}f4", "<F4"}

// derive returns the seeds and files made from them.
func derive(seeds [][]byte) [][]byte {
	rng := rand.New(rand.NewSource(1))
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	for _, s := range seeds {
		add(s)
		// Cut short at every length up to past the header, then a few in
		// the data; and run on.
		for n := 0; n < len(s); n++ {
			if n < 140 || rng.Intn(8) == 0 {
				add(s[:n])
			}
		}
		for _, extra := range []string{"\x00", "\n", "abcd", strings.Repeat("\x00", 64)} {
			add(append(append([]byte(nil), s...), extra...))
		}
		// A wrong header length.
		if len(s) > 12 {
			for _, d := range []int{-64, -2, -1, 1, 2, 64, 1 << 15} {
				b := append([]byte(nil), s...)
				if b[6] == 1 {
					binary.LittleEndian.PutUint16(b[8:], uint16(int(binary.LittleEndian.Uint16(b[8:]))+d))
				} else {
					binary.LittleEndian.PutUint32(b[8:], uint32(int(binary.LittleEndian.Uint32(b[8:]))+d))
				}
				add(b)
			}
			for _, v := range [][2]byte{{0, 0}, {1, 1}, {2, 0}, {3, 0}, {4, 0}} {
				b := append([]byte(nil), s...)
				b[6], b[7] = v[0], v[1]
				add(b)
			}
		}
		// Header bytes replaced, one or a few at a time.
		end := bytes.IndexByte(s, '\n') + 1
		alphabet := " \t\n\r\f\v\x00\\#'\",(){}[]:L_x0123456789-+.Tje\x80\xe9"
		for k := 0; k < 60 && end > 12; k++ {
			b := append([]byte(nil), s...)
			for j := 0; j <= rng.Intn(3); j++ {
				b[10+rng.Intn(end-10)] = alphabet[rng.Intn(len(alphabet))]
			}
			add(b)
		}
	}
	// Headers in many spellings, over 48 bytes of data that hold integers
	// both within and beyond 2^24.
	data := make([]byte, 48)
	for i := range data {
		data[i] = byte(rng.Intn(256))
	}
	data[3], data[7] = 0, 0
	for _, sp := range spellings {
		for _, d := range descrs {
			// 12 elements fit 4-byte types; another count fits another size.
			for _, n := range []int{12, []int{48, 24, 6}[rng.Intn(3)]} {
				h := fmt.Sprintf(sp, d, n)
				if strings.Count(sp, "%d") == 2 {
					h = fmt.Sprintf(sp, d, n, n)
				}
				add(wrap(h, []byte{1, 3}[rng.Intn(2)], data))
			}
		}
	}
	for _, num := range numbers {
		for _, n := range []int{12, 0} {
			h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': ("+num+",), }", n)
			add(wrap(h, 1, data))
		}
	}
	return out
}

// wrap makes a .npy file of a header text and data.
func wrap(h string, major byte, data []byte) []byte {
	b := []byte("\x93NUMPY")
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	}
	b = append(b, h...)
	return append(b, data...)
}
