// Example kefu plugin. Files in this folder are loaded at start-up, also by the
// compiled binary. A plugin default-exports an object with a name and hooks.
//
// onMessage runs for every visitor message before the knowledge base is searched.
// Return { reply } to answer, { handoff: true } to hand the conversation to a
// human, or nothing to let kefu continue as usual.

export default {
  name: "example-greeting",
  onMessage(message: { text: string; lang: "zh" | "en" }) {
    if (/^(hi|hello|hey|你好|您好)[!！.。]?$/i.test(message.text.trim())) {
      return {
        reply:
          message.lang === "zh"
            ? "您好！我是智能客服，可以回答配送、退货、发票和支付方面的问题。"
            : "Hello! I am the virtual assistant. Ask me about shipping, returns, invoices or payment.",
      };
    }
    return undefined;
  },
};
