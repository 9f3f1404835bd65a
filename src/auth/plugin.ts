import { Elysia, t } from "elysia";
import type { accessPlugin } from "./access";
import type { Auth } from "./service";
import type { User } from "./user-store";

export const LoginBody = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 64 }),
    password: t.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const PasswordBody = t.Object(
  {
    current_password: t.String({ minLength: 1, maxLength: 1024 }),
    new_password: t.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

/** Login takes a name and a password: a few hundred bytes. Anything bigger is refused unread. */
export const LOGIN_MAX_BODY = 4096;

const publicUser = (u: User) => ({ id: u.id, name: u.name, role: u.role, display_name: u.displayName });

/** Login, logout, me and password change. Who may call what is declared per route (src/auth/access.ts). */
export function authRoutes(auth: Auth, access: ReturnType<typeof accessPlugin>) {
  return new Elysia({ name: "auth" })
    .use(access)
    .post(
      "/api/auth/login",
      async ({ body, clientIp }) => {
        const { token, expiresAt, user } = await auth.login(body.name, body.password, clientIp);
        return { token, expires_at: new Date(expiresAt).toISOString(), user: publicUser(user) };
      },
      { access: { role: "public", maxBody: LOGIN_MAX_BODY }, body: LoginBody },
    )
    .post(
      "/api/auth/logout",
      async ({ token }) => {
        await auth.logout(token!);
        return { ok: true };
      },
      { access: "staff" },
    )
    .get("/api/auth/me", ({ user }) => ({ user: publicUser(user!) }), { access: "staff" })
    .post(
      "/api/auth/password",
      async ({ body, user, clientIp }) => {
        await auth.changePassword(user!, body.current_password, body.new_password, clientIp);
        return { ok: true, signed_out: true };
      },
      { access: { role: "staff", maxBody: LOGIN_MAX_BODY }, body: PasswordBody },
    );
}
