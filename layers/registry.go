package layers

import (
	"fmt"
	"sort"
	"sync"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// Config is a decoded, typed layer config, ready to be built.
type Config interface {
	// Build makes the layer for inputs of the given static shapes (-1 for a
	// free dimension). It takes its weights from w in Keras order and returns
	// the layer and the static shapes of its outputs.
	Build(in [][]int, w *Weights) (runtime.Layer, [][]int, error)
}

// Decoder decodes one layer's config. It reads options through r; the
// registry reports keys it did not read and the errors it recorded.
type Decoder func(r *Reader) (Config, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Decoder{}
)

// Register makes a decoder available for a Keras class_name. It is meant to
// be called from init functions, and by users for their own custom layers
// before any model is loaded. It panics when the class is already
// registered.
func Register(class string, d Decoder) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[class]; dup {
		panic(fmt.Sprintf("layers: class %q registered twice", class))
	}
	registry[class] = d
}

// Classes lists the registered class names, sorted.
func Classes() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for c := range registry {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Decode resolves s.Class in the registry and decodes its config. Every
// error is a *LayerError naming the layer and class; an unknown class or an
// unsupported option wraps ErrUnsupported.
func Decode(s Spec) (Config, error) {
	regMu.RLock()
	d, ok := registry[s.Class]
	regMu.RUnlock()
	if !ok {
		return nil, &LayerError{Layer: s.Name, Class: s.Class, Op: "decode", Err: fmt.Errorf("unknown layer class: %w", ErrUnsupported)}
	}
	r := NewReader(s)
	cfg, err := d(r)
	if rerr := r.Err(); rerr != nil {
		err = joinErrs(append(unwrapAll(err), rerr))
	}
	if err != nil {
		return nil, &LayerError{Layer: s.Name, Class: s.Class, Op: "decode", Err: err}
	}
	return cfg, nil
}

func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	if m, ok := err.(multiErr); ok {
		return m
	}
	return []error{err}
}

// Build builds a decoded layer, checks that it took every weight it was
// given and wraps errors with the layer's name and class.
func Build(s Spec, cfg Config, in [][]int, w *Weights) (runtime.Layer, [][]int, error) {
	l, out, err := cfg.Build(in, w)
	if err == nil {
		err = w.Done()
	}
	if err != nil {
		if _, ok := err.(*LayerError); !ok {
			err = &LayerError{Layer: s.Name, Class: s.Class, Op: "build", Err: err}
		}
		return nil, nil, err
	}
	return l, out, nil
}

// base supplies Name, Class, Params and NonTrainableParams to layer
// implementations.
type base struct {
	name, class  string
	params       int
	nonTrainable int
}

func (b *base) Name() string            { return b.name }
func (b *base) Class() string           { return b.class }
func (b *base) Params() int             { return b.params }
func (b *base) NonTrainableParams() int { return b.nonTrainable }

// newBase counts the weights w handed out. Keras: a layer whose config has
// "trainable": false holds only non-trainable weights, and so does a layer
// wrapped in it; otherwise the weights marked by Weights.nonTrainable
// (BatchNormalization's moving statistics) are the non-trainable ones.
// Marking w as all frozen here passes a wrapped layer's flag to its wrapper,
// which counts the same Weights.
func newBase(s Spec, w *Weights) base {
	if frozen(s) {
		w.nonTrainable(w.takenElements())
	}
	return base{name: s.Name, class: s.Class, params: w.takenElements(), nonTrainable: w.frozenElements()}
}

// frozen reports whether the layer's config says "trainable": false.
func frozen(s Spec) bool {
	v := s.Config.Get("trainable")
	return v.Exists() && v.Type == gjson.False
}
