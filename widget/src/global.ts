// Script-tag entry: `window.Hitch` is the class (HitchError is `Hitch.HitchError`).
import { Hitch } from './index';

(globalThis as any).Hitch = Hitch;
