//go:build !race

package perfpredict

const raceEnabled = false
