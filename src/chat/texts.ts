/**
 * Everything a visitor can read that kefu itself writes: notices and error
 * messages, in Simplified Chinese and English. Agents see the same notices in the
 * conversation's language, which is what the visitor saw.
 */
import { catalogue } from "../i18n/texts";

export { type Lang, pickLang } from "../i18n/texts";

const zh = {
  queued: "正在为您转接人工客服，请稍候……",
  no_agent_online: "当前没有在线的人工客服。您的问题已留给客服，客服上线后会在这里回复您；在此期间，我会继续回答我能回答的问题。",
  follow_up: "（人工客服稍后也会在这里跟进。）",
  noted_for_agent: "已记下，人工客服会在这里回复您。",
  agents_busy: "人工客服都在忙，您已进入排队，请稍候。",
  agent_joined: "客服 {name} 已接入，为您服务。",
  transferred: "您的会话已转接给客服 {name}。",
  returned_to_bot: "人工客服已离开，智能助手将继续为您服务。",
  closed: "会话已结束，感谢您的咨询。",
  bot_failed: "抱歉，智能助手暂时无法回答。您可以发送“人工”联系人工客服。",
  bot_busy: "请稍等——现在咨询的人很多，我没能及时回答。请稍后再发一次您的问题，或发送“人工”联系人工客服。",
  err_binary_frame: "不支持二进制消息，请发送 JSON 文本。",
  err_frame_too_large: "消息过大（上限 {max} 字节）。",
  err_bad_json: "消息不是有效的 JSON。",
  err_bad_frame: "消息必须是带有 type 字段的 JSON 对象。",
  err_unknown_type: "未知的消息类型：{type}。",
  err_invalid_frame: "消息格式不正确：{detail}。",
  err_hello_required: "请先发送 hello。",
  err_already_hello: "此连接已经发送过 hello。",
  err_unsupported_version: "不支持的协议版本 {v}，服务器支持版本 {supported}。",
  err_unauthorized: "访客身份无效，请不带 visitor_id 和 token 重新发送 hello。",
  err_text_too_long: "消息过长（上限 {max} 字）。",
  err_empty_text: "消息不能为空。",
  err_rate_limited: "发送太快了，请稍后再试。",
  err_new_visitors_limited: "此网络新建会话太频繁，请稍后再试。",
  err_duplicate_client_id: "client_id 已被另一条消息使用。",
  err_choice_not_offered: "这个选项不在本会话提供的选项中。",
  err_choice_unavailable: "这个问题的答案已下线，请换个问法或发送“人工”。",
  err_invalid_identity: "用户身份签名无效，已按匿名访客继续。",
  err_not_found: "没有找到这个会话。",
  err_internal: "服务器内部错误，请稍后重试。",
};

const en: typeof zh = {
  queued: "Connecting you to a human agent, please wait…",
  no_agent_online:
    "No agent is online right now. Your question is left for an agent, who will reply in this chat when they are back; meanwhile I will keep answering what I can.",
  follow_up: "(A human agent will also follow up here.)",
  noted_for_agent: "Noted; a human agent will answer this here.",
  agents_busy: "All agents are busy. You are in the queue, please wait.",
  agent_joined: "{name} has joined the conversation.",
  transferred: "Your conversation was transferred to {name}.",
  returned_to_bot: "The agent has left; the assistant will continue to help you.",
  closed: "This conversation has ended. Thank you for contacting us.",
  bot_failed: 'Sorry, the assistant cannot answer right now. Type "human" to talk to a person.',
  bot_busy: 'One moment: many people are asking right now and I could not answer in time. Please send your question again shortly, or type "human" to talk to a person.',
  err_binary_frame: "Binary frames are not supported; send JSON text.",
  err_frame_too_large: "Frame too large (limit {max} bytes).",
  err_bad_json: "The frame is not valid JSON.",
  err_bad_frame: "A frame must be a JSON object with a string type field.",
  err_unknown_type: "Unknown frame type: {type}.",
  err_invalid_frame: "Invalid frame: {detail}.",
  err_hello_required: "Send hello first.",
  err_new_visitors_limited: "Too many new chats from this network; please try again in a minute.",
  err_already_hello: "This connection has already sent hello.",
  err_unsupported_version: "Protocol version {v} is not supported; this server speaks version {supported}.",
  err_unauthorized: "Unknown visitor or wrong token; send hello without visitor_id and token to start over.",
  err_text_too_long: "Message too long (limit {max} characters).",
  err_empty_text: "The message is empty.",
  err_rate_limited: "You are sending too fast; please wait a moment.",
  err_duplicate_client_id: "This client_id is already used by another message.",
  err_choice_not_offered: "That choice was not offered in this conversation.",
  err_choice_unavailable: 'That answer is no longer available; ask another way or type "human".',
  err_invalid_identity: "The user's identity signature is not valid; continuing as an anonymous visitor.",
  err_not_found: "No such conversation.",
  err_internal: "Internal server error; please try again.",
};

export type TextKey = keyof typeof zh;

export const isTextKey = (key: string): key is TextKey => Object.hasOwn(zh, key);

export const say = catalogue<TextKey>({ zh, en });

