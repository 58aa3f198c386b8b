package golden

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFixturesAreGenerated regenerates every fixture with
// tools/gen_fixtures.py and checks that the committed files are exactly
// what the generator writes, so no expected output was edited by hand or
// produced by Go.
func TestFixturesAreGenerated(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import h5py, numpy, torch").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-h5py, python3-numpy or python3-torch is missing: %v", err)
		}
		t.Skip("python3-h5py, python3-numpy or python3-torch is missing")
	}
	root := filepath.Join("..", "..")
	out := t.TempDir()
	cmd := exec.Command(py, filepath.Join(root, "tools", "gen_fixtures.py"), "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen_fixtures.py: %v\n%s", err, b)
	}
	committed := filepath.Join(root, "fixtures")
	n := 0
	err := filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(committed, rel))
		if err != nil {
			t.Errorf("%s: generated but not committed: %v", rel, err)
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the committed file differs from what tools/gen_fixtures.py writes", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 200 {
		t.Fatalf("only %d files generated", n)
	}
}
