/** argon2id through Bun's native implementation; the hash string embeds its parameters. */
export const hashPassword = (plain: string) => Bun.password.hash(plain, { algorithm: "argon2id" });
export const verifyPassword = (plain: string, hash: string) => Bun.password.verify(plain, hash);

/** A 20-character password from an unambiguous alphabet, for first-run bootstrap. */
export function generatePassword(length = 20): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const limit = 256 - (256 % alphabet.length); // rejection sampling keeps every character equally likely
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < limit && out.length < length) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

export const MIN_PASSWORD_LENGTH = 10;
