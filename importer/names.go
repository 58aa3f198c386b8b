package importer

import (
	"strings"
)

// weightName is a stored weight name taken apart. Weight names differ from
// one Keras version to the next while their order does not, so kerasrun
// binds weights by order and uses names only to check and to report:
//
//	Keras 2          dense_1/kernel:0
//	Theano backend   dense_1/kernel
//	wrappers         bidirectional_1/forward_lstm_1/kernel:0
//	tf.keras 2.4+    lstm_9/lstm_cell_9/kernel:0
//	Keras 3          sequential/dense/kernel
//	Keras 1          lstm_1_W_i:0, dense_1_b (no scope, the parameter last)
type weightName struct {
	Stored string   // the name as stored
	Scopes []string // the path before the base name, outermost first
	Base   string   // "kernel", "bias", or for Keras 1 "W", "U_i", "b_f", ...
	Keras1 bool     // a Keras 1 name: "<layer>_<param>"
}

// keras1Params are the parameter suffixes of Keras 1 weight names, longest
// first so that "_running_mean" wins over shorter matches.
var keras1Params = func() []string {
	ps := []string{"running_mean", "running_std", "gamma", "beta", "W", "U", "b"}
	for _, p := range []string{"W", "U", "b"} {
		for _, g := range []string{"i", "c", "f", "o", "z", "r", "h"} {
			ps = append(ps, p+"_"+g)
		}
	}
	return ps
}()

// parseWeightName splits a stored weight name into its scopes and base
// name. It drops a ":N" suffix. A name without scopes is read as a Keras 1
// name when it ends in one of Keras 1's parameter suffixes.
func parseWeightName(stored string) weightName {
	n := weightName{Stored: stored}
	s := stored
	if i := strings.LastIndexByte(s, ':'); i >= 0 && i+1 < len(s) && allDigits(s[i+1:]) {
		s = s[:i]
	}
	parts := strings.Split(s, "/")
	n.Base = parts[len(parts)-1]
	for _, p := range parts[:len(parts)-1] {
		if p != "" {
			n.Scopes = append(n.Scopes, p)
		}
	}
	if len(n.Scopes) == 0 {
		best := ""
		for _, p := range keras1Params {
			if strings.HasSuffix(n.Base, "_"+p) && len(n.Base) > len(p)+1 && len(p) > len(best) {
				best = p
			}
		}
		if best != "" {
			n.Scopes = []string{n.Base[:len(n.Base)-len(best)-1]}
			n.Base = best
			n.Keras1 = true
		}
	}
	return n
}

// Layer is the outermost scope: the layer that owns the weight, or "".
func (n weightName) Layer() string {
	if len(n.Scopes) == 0 {
		return ""
	}
	return n.Scopes[0]
}

// Direction is "forward" or "backward" for a weight of a Bidirectional
// wrapper's inner layer, "" otherwise.
func (n weightName) Direction() string {
	for _, s := range n.Scopes {
		switch {
		case strings.HasPrefix(s, "forward_"):
			return "forward"
		case strings.HasPrefix(s, "backward_"):
			return "backward"
		}
	}
	return ""
}

// Cell is the tf.keras cell scope ("lstm_cell_9"), or "".
func (n weightName) Cell() string {
	for _, s := range n.Scopes[min(1, len(n.Scopes)):] {
		t := strings.TrimRight(s, "0123456789")
		t = strings.TrimSuffix(t, "_")
		if strings.HasSuffix(t, "_cell") || t == "cell" {
			return s
		}
	}
	return ""
}

// owner returns the first scope that names one of the given layers.
func (n weightName) owner(layers map[string]bool) (string, bool) {
	for _, s := range n.Scopes {
		if layers[s] {
			return s, true
		}
	}
	return "", false
}

// hasTFSuffix reports whether a stored name ends in ":N", which TensorFlow
// variable names always do and Theano's never do.
func hasTFSuffix(stored string) bool {
	i := strings.LastIndexByte(stored, ':')
	return i >= 0 && i+1 < len(stored) && allDigits(stored[i+1:])
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
