import { describe, expect, it } from 'vitest';
import { addonCandidates, loadNative, nativeAvailable } from '../native/index.js';

// The native test files skip themselves when the addon is missing so that the rest of the suite still
// runs on a machine without oneDNN; this file makes such a run fail loudly instead of passing quietly.
describe('native addon', () => {
  it('is built and loads (npm ci builds it; missing: apt-get install libdnnl-dev nlohmann-json3-dev && npm run build:native)', () => {
    if (!nativeAvailable()) {
      // loadNative throws the loader's actionable message naming every place it looked.
      expect(() => loadNative()).not.toThrow();
    }
    expect(nativeAvailable()).toBe(true);
    expect(addonCandidates().length).toBeGreaterThan(0);
  });
});
