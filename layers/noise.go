package layers

// The noise and regularisation layers act in training only. At inference
// they return their input and pass its mask on (Keras: supports_masking =
// True for all four). Their options shape training alone.

// Keras: GaussianNoise(stddev) adds noise only when training. Keras 1
// called the option "sigma"; Keras 3 adds "seed".
func decodeGaussianNoise(r *Reader) (Config, error) {
	r.Ignore("stddev", "sigma", "seed")
	return &identityConfig{spec: r.Spec()}, nil
}

// Keras: GaussianDropout(rate) multiplies by 1-centred noise only when
// training. Keras 1 called the option "p"; Keras 3 adds "seed".
func decodeGaussianDropout(r *Reader) (Config, error) {
	r.Ignore("rate", "p", "seed")
	return &identityConfig{spec: r.Spec()}, nil
}

// Keras: AlphaDropout(rate, noise_shape, seed) is the identity unless
// training.
func decodeAlphaDropout(r *Reader) (Config, error) {
	r.Ignore("rate", "noise_shape", "seed")
	return &identityConfig{spec: r.Spec()}, nil
}

// Keras: ActivityRegularization(l1, l2) only adds a loss term.
func decodeActivityRegularization(r *Reader) (Config, error) {
	r.Ignore("l1", "l2")
	return &identityConfig{spec: r.Spec()}, nil
}

func init() {
	Register("GaussianNoise", decodeGaussianNoise)
	Register("GaussianDropout", decodeGaussianDropout)
	Register("AlphaDropout", decodeAlphaDropout)
	Register("ActivityRegularization", decodeActivityRegularization)
}
