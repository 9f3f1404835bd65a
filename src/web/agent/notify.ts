const SOUND_KEY = "kefu.agent.sound";

let audio: AudioContext | null = null;
let soundOn = localStorage.getItem(SOUND_KEY) !== "off";

export const soundEnabled = () => soundOn;

export function setSound(on: boolean) {
  soundOn = on;
  localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  if (on) unlockAudio();
}

/** Browsers start audio only after a user gesture: the first click or key press creates the context. */
export function unlockAudio() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") void audio.resume();
  } catch {
    audio = null;
  }
}

/** A short two-tone beep, generated (no audio file). */
export function beep() {
  if (!soundOn || !audio || audio.state !== "running") return;
  const now = audio.currentTime;
  for (const [i, freq] of [880, 1320].entries()) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    const start = now + i * 0.12;
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.1);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.11);
  }
}

export const notificationPermission = (): NotificationPermission | "unsupported" =>
  typeof Notification === "undefined" ? "unsupported" : Notification.permission;

export async function askNotificationPermission() {
  if (typeof Notification === "undefined" || Notification.permission !== "default") return;
  try {
    await Notification.requestPermission();
  } catch {
    // Old Safari takes a callback instead; the console works without desktop notifications.
  }
}

/**
 * Sound plus a desktop notification (when allowed). `tag` replaces an earlier notification about the same
 * thing; a click focuses the console and runs `onClick`.
 */
export function notify(title: string, body: string, tag: string, onClick?: () => void) {
  beep();
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  try {
    const n = new Notification(title, { body: body.slice(0, 200), tag });
    n.onclick = () => {
      window.focus();
      onClick?.();
      n.close();
    };
  } catch {
    // Some mobile browsers allow notifications only from a service worker.
  }
}
