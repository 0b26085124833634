// Package gbdt holds gradient-boosted regression trees in pure Go: a
// histogram-based learner (Fit) and the model it produces (Predict,
// PredictBatch, Encode, Decode).
//
// Data flow:
//
//	Data{X, Y} --Fit(Params)--> *Model --Predict(x)--> float64
//	*Model --Encode--> JSON --Decode--> *Model
//
// Fit bins every feature into at most MaxBins quantile bins (from the
// training rows), grows each tree leaf-wise (the leaf with the largest gain
// splits next, up to MaxLeaves leaves and MaxDepth levels) on per-bin sums
// of the loss gradients (weighted by Data.W when given), and adds it
// shrunk by LearningRate. A split
// threshold is a bin edge (the midpoint between neighbouring training
// values), so a model predicts on raw feature values without its bins.
// Every loss has a unit hessian: L2 leaves take the regularised mean of the
// residuals, L1 leaves their median and quantile leaves their quantile. With
// a validation set Fit stops after Patience rounds without a better
// validation loss and keeps the best round. The result depends only on the
// data and Params (Seed drives row and feature subsampling), not on Workers.
package gbdt
