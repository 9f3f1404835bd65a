import { createHmac, timingSafeEqual } from "node:crypto";
import type { VisitorUser } from "./schemas";
import { pickLang, type Lang } from "./texts";
import type { Visitor, VisitorStore } from "./visitor-store";

export interface Identified {
  visitor: Visitor;
  token: string;
}

/**
 * Identity verification: which visitor a hello's `user` makes this connection. Verified (the hash is
 * HMAC-SHA256(identity_secret, user.id)): the visitor linked to that shop user, whichever device, with a
 * new token for this device; the device's own visitor when it is not linked to anyone else yet; else a new
 * one (a shared computer). Unsigned, or no secret set: the device's (or a new) visitor, described but
 * unverified. A hash that does not match: null (the caller refuses the user and goes on without it).
 */
export function createIdentify(visitors: VisitorStore, config: { identity_secret: string; default_lang: Lang }) {
  const newVisitor = (lang: string | undefined) => visitors.create(pickLang(lang, config.default_lang));
  /** Both sides are hashed before the constant-time compare, so neither length nor content leaks. */
  const validHash = (id: string, hash: string): boolean => {
    const expected = createHmac("sha256", config.identity_secret).update(id).digest("hex");
    const digest = (v: string) => createHmac("sha256", "kefu-compare").update(v).digest();
    return timingSafeEqual(digest(expected), digest(hash.toLowerCase()));
  };

  return async function identify(user: VisitorUser, current: Identified | null, lang: string | undefined): Promise<Identified | null> {
    if (user.hash === undefined || !config.identity_secret) {
      const s = current ?? (await newVisitor(lang));
      await visitors.describe(s.visitor.id, { externalId: user.id, name: user.name, email: user.email });
      return s;
    }
    if (!validHash(user.id, user.hash)) return null;
    const linked = await visitors.byVerifiedUser(user.id);
    if (linked) {
      await visitors.verify(linked.id, user.id, user.name, user.email);
      if (current?.visitor.id === linked.id) return current;
      const visitor = { id: linked.id, lang: lang ? pickLang(lang, linked.lang) : linked.lang };
      await visitors.touch(visitor.id, visitor.lang);
      return { visitor, token: await visitors.issueToken(linked.id) };
    }
    const own = current && !(await visitors.identity(current.visitor.id))?.verified ? current : await newVisitor(lang);
    await visitors.verify(own.visitor.id, user.id, user.name, user.email);
    return own;
  };
}
