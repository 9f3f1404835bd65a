/** What the widget itself writes, in Simplified Chinese and English; server notices arrive already translated. */
const en = {
  title: "Customer service",
  subtitle_bot: "Answers at once",
  subtitle_agent: "You are talking to {name}",
  subtitle_queued: "Waiting for an agent",
  open: "Open chat",
  close: "Close chat",
  placeholder: "Type your question…",
  send: "Send",
  human: "Talk to a human",
  you: "You",
  bot: "Assistant",
  agent: "Agent",
  sending: "Sending…",
  failed: "Not sent",
  retry: "Retry",
  offline: "Connection lost. Reconnecting…",
  typing: "{name} is typing…",
  sources: "Sources",
  unread: "{n} new message(s)",
  new_message: "New message",
  csat_title: "How did we do?",
  csat_comment: "Anything to add? (optional)",
  csat_submit: "Send rating",
  csat_thanks: "Thank you for your feedback.",
  star: "{n} of 5",
  offline_title: "No agent is online right now",
  offline_text: "Leave your question and how to reach you; an agent will answer here and, if you like, by e-mail.",
  offline_name: "Name",
  offline_email: "E-mail",
  offline_question: "Your question",
  offline_submit: "Leave message",
  offline_cancel: "Cancel",
  offline_sent: "Thank you. Your message is with our agents.",
  new_conversation: "New conversation",
  invalid_email: "Please enter a valid e-mail address.",
};
export type TextKey = keyof typeof en;

const zh: Record<TextKey, string> = {
  title: "在线客服",
  subtitle_bot: "智能助手即时为您解答",
  subtitle_agent: "客服 {name} 正在为您服务",
  subtitle_queued: "正在等待人工客服",
  open: "打开客服对话",
  close: "关闭对话",
  placeholder: "请输入您的问题……",
  send: "发送",
  human: "转人工",
  you: "我",
  bot: "智能助手",
  agent: "客服",
  sending: "发送中……",
  failed: "未发送",
  retry: "重试",
  offline: "连接已断开，正在重新连接……",
  typing: "{name}正在输入……",
  sources: "参考资料",
  unread: "{n} 条新消息",
  new_message: "新消息",
  csat_title: "请为本次服务评分",
  csat_comment: "还有什么想说的吗？（可选）",
  csat_submit: "提交评价",
  csat_thanks: "感谢您的评价。",
  star: "{n} 分（满分 5 分）",
  offline_title: "当前没有在线的人工客服",
  offline_text: "请留下您的问题和联系方式，客服上线后会在这里回复您。",
  offline_name: "称呼",
  offline_email: "邮箱",
  offline_question: "您的问题",
  offline_submit: "提交留言",
  offline_cancel: "取消",
  offline_sent: "谢谢，您的留言已转给客服。",
  new_conversation: "新的对话",
  invalid_email: "请输入有效的邮箱地址。",
};

export type Lang = "zh" | "en";
export type Texts = (key: TextKey, vars?: Record<string, string | number>) => string;

/** zh for any Chinese tag (zh, zh-CN, zh-Hans, zh-TW…), en otherwise. */
export const langOf = (tag: string | null | undefined): Lang | null => (!tag ? null : /^zh\b/i.test(tag) ? "zh" : /^en\b/i.test(tag) ? "en" : null);

export function textsFor(lang: Lang): Texts {
  const table = lang === "zh" ? zh : en;
  return (key, vars) => table[key].replace(/\{(\w+)\}/g, (_, k: string) => String(vars?.[k] ?? ""));
}
