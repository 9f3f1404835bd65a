import { Elysia, t } from "elysia";
import type { accessPlugin } from "./access";
import type { Auth } from "./service";
import type { User } from "./user-store";

/** Checked precisely (trimmed, 1-64 characters) by the auth service; the schema only bounds the size. */
const DisplayNameField = t.String({ maxLength: 256 });

export const UserPatchBody = t.Object({ display_name: t.Union([DisplayNameField, t.Null()]) }, { additionalProperties: false });
export const UserIdParams = t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

export const NewUserBody = t.Object(
  {
  name: t.String({ minLength: 1, maxLength: 64 }),
  role: t.Union([t.Literal("admin"), t.Literal("agent")]),
  password: t.String({ minLength: 10, maxLength: 1024 }),
  display_name: t.Optional(DisplayNameField),
  max_concurrent: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
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

/** Account management, for admins only. */
export function userAdminRoutes(auth: Auth, access: ReturnType<typeof accessPlugin>) {
  return new Elysia({ name: "users-admin", prefix: "/api/admin/users" })
    .use(access)
    .get("", () => ({ users: auth.users.list().map(userView) }), { access: "admin" })
    .post(
      "",
      async ({ body, set }) => {
        const user = await auth.addUser(body.name, body.role, body.password, { displayName: body.display_name, maxConcurrent: body.max_concurrent });
        set.status = 201;
        return { user: userView(user) };
      },
      { access: "admin", body: NewUserBody },
    )
    .patch("/:id", ({ params, body }) => ({ user: userView(auth.setDisplayName(params.id, body.display_name)) }), {
      access: "admin",
      params: UserIdParams,
      body: UserPatchBody,
    });
}
