/** Stylesheets imported `with { type: "text" }` arrive as their text (Bun.build inlines them). */
declare module "*.css" {
  const text: string;
  export default text;
}
