// Package perfpredict learns the performance of a DWCP v3 cluster from its
// metrics and predicts it with a stacked bidirectional LSTM, additive
// attention over time and a fully connected head, all in Go.
//
// Data flow: windows of scaled features x [N, T, F] and targets y [N, K]
// (built by the features package) form a Dataset; Model.Train fits the model
// with Adam on the loss Config.Loss names (the mean squared error by default,
// as in the DWCP v3 design; L1 or Huber for the train command's MASE-scaled
// targets),
// keeping the best epoch's weights by
// validation loss; Model.Predict returns predictions [B, K] and the attention
// weights [B, T]; Model.Evaluate scores predictions in original units when
// the target scaler is known; Save and Load write and read safetensors
// checkpoints under PyTorch's state_dict names, which the PyTorch definition
// of the same network in tools/fixtures/perfmodel.py reads and writes too.
//
// Where it runs: on the CPU in pure Go by default; with Config.Device "cuda"
// or "auto" (or Model.UseDevice) in a build with -tags cuda, predictions and
// training steps run on an NVIDIA GPU through internal/device, with the
// weights resident in device memory and copied back whenever the model's
// own code reads them (Save, Encode, Clone, Train's best epoch).
package perfpredict
