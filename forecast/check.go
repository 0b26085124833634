package forecast

// Check reports what Train would reject in o before any data is read: the
// error names the field and wraps ErrBadInput. Callers that hold options
// for later training (a retraining pipeline) check them up front.
func (o Options) Check() error {
	if err := o.check(); err != nil {
		return badInput(err)
	}
	return nil
}
