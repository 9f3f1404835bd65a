/** The background question lists are imported as text (embedded in the compiled binary). */
declare module "*.txt" {
  const text: string;
  export default text;
}
