// Polling without request storms: `load` runs, then again `interval` after it finished
// (never less than two seconds), only while the page is visible; hiding the page stops
// it, showing it again loads at once. stop() ends it for good.

const SHORTEST = 2000;

export function every(interval, load) {
  const wait = Math.max(interval, SHORTEST);
  let timer = null;
  let stopped = false;
  let running = false;
  let again = false;

  async function tick() {
    timer = null;
    if (stopped || document.visibilityState !== 'visible') return;
    if (running) {
      again = true; // asked while loading: load once more right after
      return;
    }
    running = true;
    try {
      await load();
    } catch (error) {
      console.warn('refresh failed', error);
    } finally {
      running = false;
    }
    if (!stopped && document.visibilityState === 'visible') {
      timer = setTimeout(tick, again ? 0 : wait);
      again = false;
    }
  }

  function onVisibility() {
    if (document.visibilityState === 'visible') {
      if (!timer && !running) tick();
    } else if (timer) {
      clearTimeout(timer);
      timer = null;
    }
  }

  document.addEventListener('visibilitychange', onVisibility);
  tick();
  return {
    /** Loads now (after a change the user made), keeping the rhythm afterwards. */
    now() {
      if (timer) clearTimeout(timer);
      timer = null;
      return tick();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
