import { catalogue, type Lang } from "../i18n/texts";

/**
 * Visitor-facing texts of the answer pipeline, in Simplified Chinese and English. The chat's handoff
 * keywords ("人工", "human") are what the texts tell visitors to type.
 */

const zh = {
  busy: "抱歉，现在咨询的人较多，我暂时无法回答。请稍后再问一次，或发送“人工”联系人工客服。",
  no_answer: "抱歉，我暂时没有找到答案。您可以换个说法，或发送“人工”联系人工客服。",
  did_you_mean: "您是不是想问下面的问题？点选或直接发送问题即可查看答案：\n{list}\n也可以发送“人工”联系人工客服。",
  unavailable: "抱歉，智能助手暂时无法使用。请发送“人工”联系人工客服，或稍后再试。",
  unavailable_choices: "抱歉，智能助手暂时无法使用。下面的问题也许能帮到您，点选或直接发送问题即可查看答案：\n{list}\n也可以发送“人工”联系人工客服。",
  needs_human: "这个问题需要人工客服处理，请发送“人工”联系人工客服。",
  off_hours: "现在是非工作时间，您的问题已记录。我们将于 {time} 上班，届时会在这里回复您。",
  off_hours_unknown: "现在是非工作时间，您的问题已记录，上班后会在这里回复您。",
  batch_answer: "关于您之前的问题「{question}」：\n{answer}",
};

const en: typeof zh = {
  busy: 'Sorry, we are handling many requests right now and I cannot answer at the moment. Please ask again shortly, or type "human" to talk to a person.',
  no_answer: 'Sorry, I could not find an answer to that. Try asking another way, or type "human" to talk to a person.',
  did_you_mean: 'Did you mean one of these? Tap one or send it to see its answer:\n{list}\nOr type "human" to talk to a person.',
  unavailable: 'Sorry, the assistant is unavailable right now. Type "human" to talk to a person, or try again later.',
  unavailable_choices: 'Sorry, the assistant is unavailable right now. These questions may help; tap one or send it to see its answer:\n{list}\nOr type "human" to talk to a person.',
  needs_human: 'This question needs a human agent; type "human" to talk to a person.',
  off_hours: "We are closed right now. Your question is saved and we will answer it here when we open ({time}).",
  off_hours_unknown: "We are closed right now. Your question is saved and we will answer it here when we are back.",
  batch_answer: 'About your earlier question "{question}":\n{answer}',
};

export type AnswerTextKey = keyof typeof zh;
export const answerText = catalogue<AnswerTextKey>({ zh, en });

/** "1. question" lines for the "did you mean" reply. */
export function suggestionList(questions: string[]): string {
  return questions.map((q, i) => `${i + 1}. ${q}`).join("\n");
}

/** An opening time as the visitor reads it, in the shop's time zone, e.g. "Mon, Nov 30, 09:00 GMT+8". */
export function formatOpening(at: Date, timeZone: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-US", {
    timeZone,
    weekday: "short",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(at);
}
