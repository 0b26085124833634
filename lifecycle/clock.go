package lifecycle

import (
	"sort"
	"sync"
	"time"
)

// Clock is the pipeline's time source, so tests run days in milliseconds.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time                         { return time.Now() }
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SimClock is a manual clock: time moves only when Advance or Set is
// called, firing the timers that fall due in order.
type SimClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []simWaiter
	cond    *sync.Cond
}

type simWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewSimClock starts a simulated clock at t.
func NewSimClock(t time.Time) *SimClock {
	c := &SimClock{now: t}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *SimClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, simWaiter{at: c.now.Add(d), ch: ch})
	c.cond.Broadcast()
	return ch
}

// Advance moves time forward by d, firing due timers.
func (c *SimClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves time to t (never backwards), firing due timers.
func (c *SimClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		return
	}
	c.now = t
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- w.at
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// BlockUntilWaiters waits until at least n timers are pending, so a test
// knows a goroutine is parked on After before it advances the clock.
func (c *SimClock) BlockUntilWaiters(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.waiters) < n {
		c.cond.Wait()
	}
}

// BlockUntilTimerAt waits until a timer due exactly at t is pending: how a
// test knows a loop is parked until t (and not on some other timer) before
// it advances the clock.
func (c *SimClock) BlockUntilTimerAt(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for _, w := range c.waiters {
			if w.at.Equal(t) {
				return
			}
		}
		c.cond.Wait()
	}
}
