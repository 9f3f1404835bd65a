import { Elysia, t } from "elysia";
import { badRequest, conflict, notFound } from "../errors/kefu-error";
import type { accessPlugin } from "./access";
import { MIN_PASSWORD_LENGTH } from "./password";
import type { Auth } from "./service";
import { type AskToken, MAX_ASK_TOKENS } from "./token-store";
import type { User } from "./user-store";

/** Checked precisely (trimmed, 1-64 characters) by the auth service; the schema only bounds the size. */
const DisplayNameField = t.String({ maxLength: 256 });
const Role = t.Union([t.Literal("admin"), t.Literal("agent")]);
const MaxConcurrent = t.Integer({ minimum: 1, maximum: 1000 });

export const UserPatchBody = t.Object(
  {
    display_name: t.Optional(t.Union([DisplayNameField, t.Null()])),
    role: t.Optional(Role),
    max_concurrent: t.Optional(MaxConcurrent),
    disabled: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);
export const UserIdParams = t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
export const PasswordResetBody = t.Object({ password: t.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 }) }, { additionalProperties: false });
export const NewTokenBody = t.Object({ label: t.String({ maxLength: 256 }) }, { additionalProperties: false });

export const NewUserBody = t.Object(
  {
  name: t.String({ minLength: 1, maxLength: 64 }),
  role: Role,
  password: t.String({ minLength: 10, maxLength: 1024 }),
  display_name: t.Optional(DisplayNameField),
  max_concurrent: t.Optional(MaxConcurrent),
  },
  { additionalProperties: false },
);

export const userView = (u: User) => ({
  id: u.id,
  name: u.name,
  role: u.role,
  display_name: u.displayName,
  max_concurrent: u.maxConcurrent,
  disabled: u.disabled,
  created_at: new Date(u.createdAt).toISOString(),
});

export const askTokenView = (k: AskToken) => ({
  id: k.id,
  label: k.label,
  created_at: new Date(k.createdAt).toISOString(),
  created_by: k.createdBy,
  last_used_at: k.lastUsedAt === null ? null : new Date(k.lastUsedAt).toISOString(),
});

/** A token's label: trimmed, 1-100 characters, no control characters (it is listed in the console). */
function tokenLabel(input: string): string {
  const label = input.trim();
  if ([...label].length < 1 || [...label].length > 100) throw badRequest("label must be 1-100 characters after trimming");
  if (/[\p{Cc}\u2028\u2029]/u.test(label)) throw badRequest("label may not contain control characters or line breaks");
  return label;
}

/** Account management and the API tokens of POST /api/ask, for admins only. */
export function userAdminRoutes(auth: Auth, access: ReturnType<typeof accessPlugin>) {
  return new Elysia({ name: "users-admin" })
    .use(access)
    .get("/api/admin/users", async () => ({ users: (await auth.users.list()).map(userView) }), { access: "admin" })
    .post(
      "/api/admin/users",
      async ({ body, set }) => {
        const user = await auth.addUser(body.name, body.role, body.password, { displayName: body.display_name, maxConcurrent: body.max_concurrent });
        set.status = 201;
        return { user: userView(user) };
      },
      { access: "admin", body: NewUserBody },
    )
    .patch(
      "/api/admin/users/:id",
      async ({ params, body }) => {
        if (Object.keys(body).length === 0) throw badRequest("nothing to change: give display_name, role, max_concurrent or disabled");
        const user = await auth.updateUser(params.id, { displayName: body.display_name, role: body.role, maxConcurrent: body.max_concurrent, disabled: body.disabled });
        return { user: userView(user) };
      },
      { access: "admin", params: UserIdParams, body: UserPatchBody },
    )
    .post(
      "/api/admin/users/:id/password",
      async ({ params, body }) => {
        await auth.resetPassword(params.id, body.password);
        return { user: userView((await auth.users.get(params.id))!) };
      },
      { access: "admin", params: UserIdParams, body: PasswordResetBody },
    )
    .get("/api/admin/tokens", async () => ({ tokens: (await auth.askTokens.list()).map(askTokenView) }), { access: "admin" })
    .post(
      "/api/admin/tokens",
      async ({ body, user, set }) => {
        const label = tokenLabel(body.label);
        // The cap is checked in the insert itself (a count before it would let two nodes both pass at 999).
        const made = await auth.askTokens.create(label, user?.name ?? null, MAX_ASK_TOKENS);
        if (!made) throw conflict(`there are ${MAX_ASK_TOKENS} API tokens already: revoke unused ones first`);
        const { token, record } = made;
        set.status = 201;
        // The only time the token is shown: the database keeps its hash.
        return { ...askTokenView(record), token };
      },
      { access: "admin", body: NewTokenBody },
    )
    .delete(
      "/api/admin/tokens/:id",
      async ({ params }) => {
        if (!(await auth.askTokens.revoke(params.id))) throw notFound(`API token ${params.id}`);
        return { revoked: params.id };
      },
      { access: "admin", params: UserIdParams },
    );
}
