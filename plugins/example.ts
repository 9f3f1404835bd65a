// Example kefu plugin (docs/plugins.md). Every file in this folder is a plugin, loaded at start-up and
// reloaded when it changes, also by the compiled binary. Each runs in a worker thread of its own.
//
// onMessage runs for every visitor message before the knowledge base is searched.
// Return { text } to answer, { handoff: true } to hand the conversation to a human,
// or nothing to let kefu continue as usual.
import { definePlugin } from "kefu/plugin";

export default definePlugin({
  name: "example-greeting",
  onMessage({ message }) {
    if (/^(hi|hello|hey|你好|您好)[!！.。]?$/i.test(message.text.trim())) {
      return {
        text:
          message.lang === "zh"
            ? "您好！我是智能客服，可以回答配送、退货、发票和支付方面的问题。"
            : "Hello! I am the virtual assistant. Ask me about shipping, returns, invoices or payment.",
      };
    }
  },
});
