"""Page texts in Simplified Chinese (English is the message id itself), and the labels pages show."""

from __future__ import annotations

from flask import Flask

from sync.kit.i18n import Translator
from sync.messages import RECONCILED_OUTCOMES
from sync.kit.web import gettext

from .progress import case_dates

STATUS_LABELS = {
    "received": "Received at the window",
    "queued": "Queued to send",
    "sent": "Sent, awaiting confirmation",
    "acked": "At the county hub",
    "supplement_requested": "Materials requested (supplement)",
    "supplemented": "Materials supplemented, back with the department",
    "result_ready": "Result ready",
    "collected": "Collected (closed)",
    "collected_elsewhere": "Collected at another service point (closed)",
}
# The hub's states of a case (a STATUS or a RESULT), and what this point wrote there itself, in staff's words.
HUB_STATUS_LABELS = {
    "accepted": "Received by the county hub",
    "routed": "Sent to the department",
    "in_review": "Under review by the department",
    "supplement_requested": "Waiting for the resident's materials (supplement)",
    "supplemented": "Materials supplemented, back with the department",
    "needs_attention": "Being checked by a county operator",
    "result_issued": "Decided; the result is on its way to this window",
    "delivered": "Result delivered to this window",
    "closed": "Closed (result collected)",
    "withdrawn": "Withdrawn",
    "withdrawal_sent": "Withdrawal sent to the county",
    "merged": "Merged with the resident's other application",
    "refused": "Not accepted by the county",
    "collected_elsewhere": "Collected at another service point (closed)",
    "conflict": "Held for a county operator (conflicting data)",
    "rejected": "Refused by the hub (quarantined)",
}
# A state a newer hub may send that this point has no words for yet: still never the raw key.
HUB_STATUS_UNKNOWN = "Updated by the county hub"
# Where a case stands (progress.stage), in the plain words a resident reads at the kiosk.
STAGE_LABELS = {
    "sending": "Received; being sent to the county",
    "in_review": "Under review at the county",
    "supplement_requested": "Materials are needed: please bring them to this window",
    "supplemented": "Materials received; under review again",
    "decided": "Decided; the result is on its way to this window",
    "result_ready": "Your result is ready: bring this receipt and your ID card to the window",
    "collected": "Collected (closed)",
    "collected_elsewhere": "Collected at another service point (closed)",
    "withdrawn": "Withdrawn",
    "merged": "Merged with your other application: either receipt collects the result",
    "refused": "Not accepted by the county: please ask at the window",
    "send_problem": "There is a problem with this application: please ask at the window",
}
DECISION_LABELS = {"approved": "Approved", "rejected": "Rejected"}
LEVEL_LABELS = {"county": "county service centre", "township": "township service centre",
                "village": "village service station"}

ZH = {
    # header, navigation, common
    "Point not enrolled": "本服务点尚未注册",
    "Online": "在线",
    "Offline": "离线",
    "Queued: {count}": "待上传：{count}",
    "Receive": "受理",
    "Cases": "办件",
    "Results": "结果",
    "Pickup": "取件",
    "Sync": "同步",
    "Log out": "退出",
    "Back to the start": "返回首页",
    "Not allowed": "无权操作",
    "Only an administrator may do this.": "只有管理员可以执行此操作。",
    "Not found": "未找到",
    "This page does not exist.": "该页面不存在。",
    "Form expired": "表单已失效",
    "The form was missing its security token. Go back, reload the page and submit again.":
        "表单缺少安全令牌。请返回、刷新页面后重新提交。",
    "Too large": "内容过大",
    "What was sent is too large.": "提交的内容过大。",
    "Request refused": "请求被拒绝",
    "The request could not be handled.": "无法处理该请求。",
    # login
    "Log in": "登录",
    "Staff login": "工作人员登录",
    "Username": "用户名",
    "Password": "密码",
    "Wrong username or password.": "用户名或密码错误。",
    "This account is locked after {count} wrong passwords. Try again after {time}, or ask an administrator.":
        "该账号因连续{count}次密码错误已被锁定，请于{time}后再试，或联系管理员。",
    "You are logged out.": "您已退出登录。",
    # intake
    "Receive an application": "受理申请",
    "Service item": "事项",
    "Service catalog": "事项目录",
    "Item code": "事项编码",
    "Open the form": "打开申请表",
    "No catalog yet: run a sync while the link to the county hub is up.": "尚无事项目录：请在与县中心联网时同步。",
    "No service item with this code.": "没有此编码的事项。",
    "Not accepted at this level": "本级不受理",
    "Promised limit": "承诺时限",
    "Legal limit": "法定时限",
    "{n} working day": "{n}个工作日",
    "Department": "主管部门",
    "Fees": "收费",
    "Conditions": "受理条件",
    "This item is not accepted at this level. Send the resident to: {levels}.": "本级不受理此事项，请引导群众前往：{levels}。",
    "Some fields are missing or invalid; see the marks below.": "部分信息缺失或有误，请查看下方标注。",
    "Required materials are missing.": "必需材料不齐。",
    "One-time notice": "一次性告知书",
    "To apply for this item, please bring all of the following:": "办理此事项，请一次性带齐以下材料：",
    "Print the notice": "打印告知书",
    "Applicant": "申请人",
    "Name": "姓名",
    "ID number": "身份证号",
    "Phone": "联系电话",
    "Application details": "申请信息",
    "(choose)": "（请选择）",
    "Materials received": "收取材料",
    "original": "原件",
    "copy": "复印件",
    "original_and_copy": "原件及复印件",
    "{n} copy": "{n}份",
    "required material": "必交",
    "No materials needed.": "无需材料。",
    "Receive and print receipt": "受理并打印回执",
    "Choose another item": "选择其他事项",
    # field problems (intake.py and sync.kit.idnumber)
    "required": "必填",
    "too long": "内容过长",
    "must be a number": "须为数字",
    "must be a date (YYYY-MM-DD)": "须为日期（年-月-日）",
    "choose one of the listed options": "请从列表中选择",
    "must be 11 digits starting with 1": "须为以1开头的11位数字",
    "not a field of this item": "不是本事项的字段",
    "required materials are missing": "必需材料不齐",
    "must be 18 characters": "须为18位",
    "must be 17 digits followed by a digit or X": "须为17位数字加1位数字或X",
    "contains an impossible birth date": "出生日期不存在",
    "check character does not match (mistyped digit?)": "校验位不符（是否有数字输错？）",
    # receipt
    "Receipt": "回执",
    "Application receipt": "受理回执",
    "Receipt number": "受理编号",
    "Pickup code": "取件码",
    "Keep this code: it is needed to collect the result and cannot be shown again.": "请妥善保管：领取结果时需要此码，系统不会再次显示。",
    "Given on the printed receipt at intake (not shown again).": "已在受理时打印于回执上（不再显示）。",
    "Received": "受理时间",
    "Promised date": "承诺办结日期",
    "Received at": "受理地点",
    "Complaints": "投诉渠道",
    "Bring this receipt and your ID card to collect the result at this window.": "请凭本回执和身份证到本窗口领取办理结果。",
    "Print": "打印",
    "Receive the next application": "受理下一件",
    # cases and results
    "No cases yet.": "暂无办件。",
    "Status": "状态",
    "Case": "办件",
    "At the county hub": "县中心状态",
    "Decision": "办理结果",
    "Certificate number": "证照编号",
    "Hand the result over": "发放结果",
    "Handover sheet": "结果发放单",
    "Results waiting for pickup": "待领取的结果",
    "No results are waiting.": "暂无待领取的结果。",
    "Hand over": "发放",
    "Queued to send": "待上传",
    "Sent, awaiting confirmation": "已发送，待确认",
    "Result ready": "结果已到",
    "Collected (closed)": "已领取（办结）",
    "Collected at another service point (closed)": "已在其他服务点领取（办结）",
    "The resident already collected this result at another service point (the county merged her two applications).":
        "申请人已在其他服务点领取该结果（县级中心已将其两份申请合并）。",
    "Approved": "准予",
    "Rejected": "不予",
    "county service centre": "县政务服务中心",
    "township service centre": "乡镇政务服务中心",
    "village service station": "村便民服务站",
    # pickup and handover
    "Hand a result over": "结果领取",
    "Last four characters of the ID number": "身份证号后四位",
    "Check and hand over": "核验并发放",
    "No case has this receipt number. Check the number on the receipt.": "没有此受理编号的办件，请核对回执上的编号。",
    ("This receipt was given at this point, but its case is not on this computer (it was restored from an older "
     "backup). The case is safe at the county: ask the county to hand over its result."):
        "此回执由本站出具，但本电脑上没有该办件（本电脑曾从较早的备份恢复）。办件完好保存在县级中心，请联系县级中心办理结果领取。",
    "The result for this case is not ready (or was already collected).": "此办件的结果尚未送达（或已被领取）。",
    "The pickup code or the last four ID characters do not match. Check the receipt and the ID card.":
        "取件码或身份证后四位不符，请核对回执和身份证。",
    "The stored result does not carry a valid county signature. Do not hand it over; ask the county hub to send it again.":
        "本地保存的结果未通过县中心签名验证，请勿发放，并请县中心重新发送。",
    "Pickup of this case is locked after {count} wrong tries. Check the receipt and the ID card with the resident and try again after {time}.":
        "该办件因连续{count}次核验失败，取件已被锁定。请与群众核对回执和身份证，于{time}后再试。",
    # a case the county sent back to a point restored from an older backup (pointkit/restored.py)
    "This case was sent back by the county after this computer was restored from an older backup: its pickup code cannot be checked here. Check the resident's whole ID number instead.":
        "本电脑曾从较早的备份恢复，此办件由县级中心重新发回，本机无法核验其取件码。请改为核验申请人的完整身份证号。",
    "This case was received on this computer: hand it over with its pickup code.": "此办件由本机受理，请凭取件码发放。",
    "The ID number is not the applicant's. Check it against the ID card.": "身份证号与申请人不符，请对照身份证核对。",
    "Type the whole ID number from the resident's ID card.": "请按申请人的身份证输入完整的身份证号。",
    "Choose why the result is handed over without the pickup code; for another reason, write it.":
        "请选择不凭取件码发放的原因；如为其他原因，请填写说明。",
    "The resident has the receipt, but its pickup code cannot be checked on this computer":
        "群众持有回执，但本机无法核验其取件码",
    "The resident lost the receipt": "群众遗失回执",
    "The resident has no pickup code (receipt damaged or code forgotten)": "群众无法提供取件码（回执损坏或遗忘取件码）",
    "The resident has no pickup code (receipt lost, code forgotten)": "群众无法提供取件码（遗失回执、忘记取件码）",
    "Check the whole ID number on the resident’s ID card, and say why. The handover is recorded with your name.":
        "请核对群众身份证上的完整身份证号码，并注明原因。交付记录将署您的姓名。",
    "One more wrong try locks it for 15 minutes.": "再错{n}次将锁定15分钟。",
    "Another reason (write it below)": "其他原因（请在下方填写）",
    ("This case was sent back by the county after this computer was restored from an older backup. Its pickup code "
     "is not on this computer: check the whole ID number on the resident’s ID card, and say why. The handover is "
     "recorded with your name."):
        "本电脑曾从较早的备份恢复，此办件由县级中心重新发回，本机没有其取件码。请核验申请人身份证上的完整身份证号，"
        "并注明原因。本次发放将以您的名义记录在案。",
    "Whole ID number (18 characters, from the ID card)": "完整身份证号（18位，以身份证为准）",
    "Why without the pickup code": "不凭取件码发放的原因",
    "Note (required for another reason; no ID numbers)": "说明（其他原因时必填；请勿填写身份证号）",
    "Check the ID number and hand over": "核验身份证号并发放",
    ("This case was sent back by the county after this computer was restored from an older backup. Its pickup code "
     "is not on this computer: its result is handed over on the whole ID number."):
        "本电脑曾从较早的备份恢复，此办件由县级中心重新发回，本机没有其取件码，凭完整身份证号发放结果。",
    ("This application came back to this computer from the county; this computer cannot check its pickup code. "
     "Please ask at the window and bring your ID card."):
        "您的申请记录由县级中心重新发回本机，本机无法核验取件码。请携带身份证到窗口咨询。",
    "Result": "结果",
    "Result not valid": "结果无效",
    "Result of the application": "办理结果告知",
    "Reason": "原因",
    "Decided": "决定日期",
    "Collected": "领取时间",
    "The county hub signature on this result was verified at this window.": "本结果的县中心电子签名已在本窗口验证通过。",
    "Back to results": "返回结果列表",
    # sync
    "Sync with the county hub": "与县中心同步",
    "Link": "网络",
    "Last successful sync": "上次成功同步",
    "Last attempt": "上次尝试",
    "Last error": "最近错误",
    "never": "从未",
    "none": "无",
    "Catalog version": "事项目录版本",
    "Hub key fingerprint": "县中心密钥指纹",
    "Sync now": "立即同步",
    "Hub key generation": "县中心密钥版本",
    "post-quantum hybrid": "抗量子混合加密",
    "Clock offset from the hub": "本机时钟与县中心相差",
    "{seconds} s": "{seconds}秒",
    "This laptop's clock is wrong; sync still works on the hub's clock, but please set the clock.":
        "本机时钟不准；同步仍按县中心时间进行，但请校准本机时钟。",
    "Point keys": "本点密钥",
    "New keys wait for the hub's confirmation.": "新密钥等待县中心确认。",
    "This point has been revoked by the county hub; contact county IT.": "本服务点已被县中心停用（吊销），请联系县信息中心。",
    "this point has been revoked by the county hub; contact county IT": "本服务点已被县中心停用（吊销），请联系县信息中心",
    "Queued envelopes are kept and are not sent.": "待上传的数据已保留，暂不发送。",
    "The county hub refused this point's request ({reason}). Cases stay queued; tell county IT.":
        "县中心拒绝了本点的请求（{reason}）。办件仍在队列中，请告知县信息中心。",
    "Refused by the hub (quarantined)": "被县中心退回（已隔离）",
    "None.": "无。",
    "These envelopes were refused by the hub; everything else keeps flowing. Tell the county hub the reason shown.":
        "以下数据包被县中心拒收，其余数据照常上传。请将显示的原因告知县中心。",
    "Details": "详情",
    "Send again": "重新发送",
    "Hub messages refused here": "本点拒绝的县中心消息",
    "The envelope is queued again.": "已重新排队发送。",
    "Sync done: {pushed} sent ({accepted} accepted, {rejected} rejected), {pulled} received, {applied} applied.":
        "同步完成：上传{pushed}件（接收{accepted}，拒收{rejected}），下载{pulled}条，处理{applied}条。",
    "Sync failed: {reason}. Cases stay queued and are sent when the link is back.":
        "同步失败：{reason}。办件仍在队列中，联网后自动上传。",
    "the link to the county hub timed out": "与县中心的连接超时",
    "cannot connect to the county hub (no network, or the hub is down)": "无法连接县中心（无网络或县中心服务未运行）",
    "the link to the county hub broke off": "与县中心的连接中断",
    "cannot reach the county hub": "无法连接县中心",
    "the county hub answered with a server error; tell county IT": "县中心服务出错，请告知县信息中心",
    "Sync steps": "同步各步骤",
    "Step": "步骤",
    "State": "状态",
    "Last finished": "上次完成",
    "working": "正常",
    "not run yet": "尚未运行",
    "Stuck: {why}": "未完成：{why}",
    "(since {time})": "（自{time}起）",
    "sending cases and requests to the county hub": "向县中心报送办件和申请",
    "receiving results and messages from the county hub": "接收县中心的结果和通知",
    "fetching the new service catalog and holiday calendar": "下载新版事项目录和节假日安排",
    "relaying for the villages": "为所辖村便民服务站转发",
    "uploading scans of materials": "上传材料扫描件",
    "the county hub refused the request; tell county IT": "县中心拒绝了该请求，请告知县信息中心",
    "New catalog arriving: {received} of {total} KB; it resumes where the link cut it.":
        "新版事项目录下载中：已收到{received} KB，共{total} KB；断线后从中断处继续。",
    "none yet: cases cannot be received until the catalog arrives": "尚无：收到事项目录之前不能受理办件",
    "A sync round is already running; it finishes by itself: look again in a moment.": "同步正在进行，会自动完成，请稍后再查看。",
    # scans of materials
    "Scan or photo": "扫描件或照片",
    "Other scans and photos": "其他扫描件和照片",
    "Scans are sealed on this laptop and sent to the county after the case.": "扫描件在本机加密保存，随办件之后上传县中心。",
    "Attach the files again before resubmitting.": "重新提交前请再次选择文件。",
    "Scans waiting": "待传扫描件",
    "{n} scan, {kb} KB": "{n}份，{kb} KB",
    "metered link": "按流量计费的网络",
    "scans wait for the unmetered hours ({hours})": "扫描件等待不计流量时段（{hours}）再传",
    "none set": "未设置",
    "Send scans now": "立即上传扫描件",
    "Scans on this link": "本网络的扫描件设置",
    "Metered link: send cases now, hold scans": "按流量计费：办件即时上传，扫描件暂缓",
    "Unmetered hours (START-END, e.g. 22-6)": "不计流量时段（开始-结束，如 22-6）",
    "Re-encode photos larger than (KB, 0 = never)": "照片超过此大小时压缩（KB，0 为不压缩）",
    "Keep sent scans after pickup (days)": "领取后保留已传扫描件（天）",
    "Save settings": "保存设置",
    "Settings saved.": "设置已保存。",
    "Settings not saved: write the hours as START-END (e.g. 22-6) and sizes and days as whole numbers.":
        "设置未保存：时段请写成“开始-结束”（如 22-6），大小和天数请填整数。",
    "Scans: {sent} sent, {held} held for the unmetered hours.": "扫描件：已传{sent}份，{held}份等待不计流量时段。",
    "Scans waiting: {kb} KB": "待传扫描件：{kb} KB",
    # intake window: search, prefill, drafts, one-time notices, service guides, calendar
    "Find a service item: name, code or pinyin initials (e.g. ylbx)": "查找事项：名称、编码或拼音首字母（如 ylbx）",
    "Search": "查找",
    "{n} item matches “{query}”.": "共{n}个事项匹配“{query}”。",
    "go to {levels}": "请到{levels}办理",
    "Guide": "办事指南",
    "Print the guide": "打印办事指南",
    "Print the guide for the resident": "为群众打印办事指南",
    "This item is not accepted at this level. Send the resident to: {levels} (department: {departments}).":
        "本级不受理此事项，请引导群众前往：{levels}（主管部门：{departments}）。",
    "Required materials are missing too: {names}. Once the marks are fixed, the one-time notice lists them.":
        "另缺必需材料：{names}。改正标注的信息后，将打印一次性告知书列明。",
    "Mobile number": "手机号码",
    "Fill in from an earlier application": "按以往申请填入",
    "Filled in from application {receipt_no} of {date}. Check every value with the resident.":
        "已按{date}的申请（受理编号{receipt_no}）填入，请与群众逐项核对。",
    "No earlier application with this ID number at this point; fill the form in.": "本点没有该身份证号的以往申请，请直接填写。",
    "signed or sealed": "须签字或盖章",
    "Signed or sealed.": "须签字或盖章。",
    "Files": "文件",
    "A required material not ticked prints a one-time notice listing everything missing, instead of a receipt.":
        "必交材料未勾选时，不出具回执，而是打印一次性告知书，列明所缺全部材料。",
    "Received today, the promised date is {date}.": "今天受理，承诺办结日期为{date}。",
    "Save as draft": "暂存",
    "Draft saved. Resume it from the drafts list when the resident is back.": "已暂存。群众再来时，可从暂存列表继续办理。",
    "Drafts": "暂存件",
    "No drafts.": "暂无暂存件。",
    "Saved": "暂存时间",
    "Staff": "经办人",
    "Resume": "继续办理",
    "Delete": "删除",
    "Draft deleted.": "暂存件已删除。",
    "Item withdrawn from the catalog": "该事项已从目录撤销",
    "Notice number": "告知书编号",
    "Dear {name} (ID {id}):": "{name}（身份证号{id}）：",
    "Your application for “{item}” ({code}) cannot be received yet. Please bring all of the following at once; every other requirement is met.":
        "您申请办理的“{item}”（{code}）暂不能受理。除以下材料外，其他条件均已符合，请一次性补齐下列材料后再来办理。",
    "Issued by {point}, staff {staff}. Complaints: {channel}.": "告知单位：{point}，经办人：{staff}。投诉渠道：{channel}。",
    "Service guide": "办事指南",
    "Catalog version {version}, printed at {point}.": "事项目录第{version}版，打印于{point}。",
    "Receive this item": "受理此事项",
    "Back to the catalog": "返回事项目录",
    "Route": "办理方式",
    "single route": "单部门办理",
    "joint route": "并联审批（各部门同时办理，全部同意方可准予）",
    "staged route": "分阶段审批（上一阶段同意后进入下一阶段）",
    "Accepted at": "受理层级",
    "Legal basis": "设定依据",
    "Process": "办理流程",
    "Silence is consent": "超时默认",
    "Yes: no decision within the legal limit counts as approval": "是：法定时限内未作决定的，视为准予",
    "Yes": "是",
    "No": "否",
    "Materials": "申请材料",
    "Material": "材料名称",
    "Form": "形式",
    "Copies": "份数",
    "Required": "是否必交",
    "If applicable": "视情况提交",
    "What a correct one looks like": "材料要求",
    "The holiday calendar of {years} is missing: promised dates in it count weekends only. Ask county IT to add the year (docs/calendar.md).":
        "缺少{years}年的节假日安排：该年的承诺日期只扣除周末。请县信息中心补充该年日历（见 docs/calendar.md）。",
    "The holiday calendar of {years} was not available; the promised date counts weekends only and may move if it falls on a public holiday.":
        "受理时缺少{years}年的节假日安排，承诺日期只扣除了周末，如遇法定节假日将顺延。",
    # after intake: supplement, pickup search, rating, kiosk (issue 6)
    "Materials requested (supplement)": "待补正",
    "Materials supplemented, back with the department": "已补正，退回部门审批",
    "Supplement notice": "补正通知书",
    "Requested by": "要求补正部门",
    "Please bring these materials again": "请补交以下材料",
    "What is missing or wrong": "缺少或有误之处",
    "The time limit is paused until you bring the materials back to this window ({point}). Bring this notice and your receipt.":
        "补正期间暂停计时，请携带本通知书和受理回执到本窗口（{point}）补交材料。",
    "Back to the case": "返回办件",
    "The department asks for materials (supplement)": "审批部门要求补正材料",
    "Print the supplement notice for the resident": "打印补正通知书交给群众",
    "Note for the department": "给审批部门的说明",
    "Send the materials to the county": "将补正材料报送县中心",
    "The materials were sent to the county; the case is back with the department.": "补正材料已报送，办件退回原审批部门。",
    "This case is not waiting for materials.": "该办件不在待补正状态。",
    "Attach scans only of the materials the department asked for.": "只能附上审批部门要求补正的材料。",
    "Attach a scan or photo of each material the resident brought.": "请为群众补交的每份材料附上扫描件或照片。",
    "Find a case": "查找办件",
    "Receipt number, ID number, or scan the receipt QR code": "受理编号、身份证号，或扫描回执二维码",
    "Find": "查找",
    "No case matches. Check the receipt number or the ID number.": "没有找到办件，请核对受理编号或身份证号。",
    "Deemed approved: no decision was made within the legal time limit.": "视为准予：法定时限内未作出决定。",
    "The QR code holds the whole signed result: scan it to verify this paper offline with the county key.":
        "二维码含完整的电子签名结果，可用县中心公钥离线核验本件真伪。",
    "Rated {score} of 5.": "已评价：{score} 分（满分 5 分）。",
    "How was the service? (rating)": "请对本次服务作出评价（好差评）",
    "Rating": "评价",
    "Very satisfied": "非常满意",
    "Satisfied": "满意",
    "Fair": "基本满意",
    "Dissatisfied": "不满意",
    "Very dissatisfied": "非常不满意",
    "Comment (optional)": "意见（可不填）",
    "Send the rating": "提交评价",
    "Thank you: the rating was sent to the county.": "谢谢！评价已报送县中心。",
    "A case is rated after the result was handed over.": "结果发放后才能评价。",
    "This case was already rated.": "该办件已评价。",
    "Choose a rating from 1 to 5.": "请选择 1 到 5 分。",
    "Check your application": "办件进度查询",
    "The receipt number or the pickup code is wrong. Check the receipt.": "受理编号或取件码不正确，请核对回执。",
    "Locked after {count} wrong tries. Ask at the window, or try again after {time}.":
        "连续输错{count}次，已锁定。请到窗口咨询，或于{time}后再试。",
    "Check another receipt": "查询其他回执",
    "Show the status": "查询进度",
    # the hub's dates and states at the point, 补正 deadlines (issue 17)
    "Received at the window": "已受理",
    "Received by the county hub": "县中心已接收",
    "Sent to the department": "已分送审批部门",
    "Under review by the department": "审批部门审批中",
    "Waiting for the resident's materials (supplement)": "等待群众补正材料",
    "Being checked by a county operator": "县中心人工核对中",
    "Decided; the result is on its way to this window": "已作出决定，结果正发往本窗口",
    "Result delivered to this window": "结果已送达本窗口",
    "Closed (result collected)": "已办结（结果已领取）",
    "Withdrawn": "已撤回",
    "Withdrawal sent to the county": "撤回申请已报送县中心",
    "Merged with the resident's other application": "已与群众的另一份申请合并办理",
    "Not accepted by the county": "县中心不予受理",
    "Held for a county operator (conflicting data)": "待县中心处理（数据冲突）",
    "Updated by the county hub": "县中心已更新办理状态",
    "Received; being sent to the county": "已受理，正在报送县级部门",
    "Under review at the county": "县级部门审批中",
    "Materials are needed: please bring them to this window": "需要补交材料，请到本窗口办理",
    "Materials received; under review again": "材料已补交，县级部门审批中",
    "Your result is ready: bring this receipt and your ID card to the window": "结果已到，请携带回执和身份证到窗口领取",
    "Merged with your other application: either receipt collects the result":
        "已与您的另一份申请合并办理，凭任一回执均可领取结果",
    "Not accepted by the county: please ask at the window": "县中心不予受理，请到窗口咨询",
    "There is a problem with this application: please ask at the window": "办理遇到问题，请到窗口咨询",
    "originally promised": "原承诺日期",
    "Moved {n} working day later: the time limit stood still during the supplement (补正).": "因补正顺延{n}个工作日。",
    "Set by the county hub's time limit.": "按县中心核定的办理时限。",
    "The time limit is paused until the materials come back; the date then moves by the working days it stood still.":
        "补正期间暂停计时，材料补齐后办结日期相应顺延。",
    "paused": "暂停计时",
    "Bring the materials by {date}.": "请于{date}前补交材料。",
    ("If they are not brought by then without a good reason, the application counts as withdrawn and its handling "
     "ends; you may apply again."): "逾期未补正且无正当理由的，视为撤回申请，本申请终止办理；您可以重新提出申请。",
    "Legal time limit ends": "法定办结期限",
    "Supplement": "补正",
    "(reprint)": "（补打）",
    "Reprinted at {time}; the promised date is the current one.": "补打时间：{time}。承诺办结日期以本次补打为准。",
    "By when": "补正期限",
    ("Bring them to this window ({point}) by {date}: within {period} of this notice. Bring this notice and your "
     "receipt."): "请于{date}前（自本通知发出之日起{period}内），携带本通知书和受理回执到本窗口（{point}）补交材料。",
    "{n} calendar day": "{n}日（自然日）",
    # corrections, withdrawals and the hub's word on conflicts (issue 7)
    "What the county hub decided on a conflict": "县中心对冲突的处理结果",
    "Why": "说明",
    "Before the decision": "作出决定前",
    "Correct the form": "更正申请内容",
    "Why the resident withdraws": "撤回原因",
    "Withdraw the application": "撤回申请",
    "Correct the application": "更正申请",
    "Change only what the resident asks to correct. The county hub receives the change and decides if it crosses "
    "another change.": "只修改群众要求更正的内容。更正报送县中心；如与其他修改冲突，由县中心处理。",
    "Send the correction to the county": "将更正报送县中心",
    "The correction was queued for the county hub.": "更正已排队报送县中心。",
    "The withdrawal was queued for the county hub.": "撤回申请已排队报送县中心。",
    "This case is decided or withdrawn: the window cannot change it any more. Ask the county hub.":
        "该办件已作出决定或已撤回，窗口不能再修改，请联系县中心。",
    "No field differs from the case as received. Nothing was sent.": "内容与受理时相同，未报送任何更正。",
    "Write why the resident withdraws the application. Nothing was sent.": "请填写群众撤回申请的原因。未报送。",
    # RECONCILED_OUTCOMES (sync/messages.py): what the hub decided, as the page says it
    "the hub kept the version it already had": "县中心保留了已有的版本",
    "the hub took the version this point sent": "县中心采用了本服务点报送的版本",
    "the hub merged the two versions field by field": "县中心已逐项合并两个版本",
    "the two applications were merged into one; both receipts stay valid for pickup":
        "两份申请已合并为一件；凭任一张回执均可取件",
    "the hub keeps both": "县中心两者都保留",
    "accepted under the catalog version in force at intake": "按受理时的事项目录版本办理",
    "Counted again on the holiday schedule of {years}, which the county published after intake.":
        "县中心按受理后公布的{years}年节假日安排重新计算。",
    "the county accepted the time of intake; the case goes to its department": "县中心已认定受理时间，办件已转审批部门",
    "the county counts the time limit from the earliest time it can confirm": "县中心按其可核实的最早受理时间起算办理时限",
    "the department asks the resident for materials (补正)": "审批部门要求群众补正材料",
    "the hub rejected it": "县中心不予采纳",
    "this point used an envelope number twice (restored from a backup?); it continues from a fresh one":
        "本服务点重复使用了报送编号（可能从旧备份恢复），已改用新编号继续",
}

translator = Translator(ZH)


def install_filters(app: Flask) -> None:
    """Jinja filters that turn stored words (status, hub state, decision, level) into the page's language, and
    a case into the dates and the stage its pages show (pointkit/progress.py)."""
    app.jinja_env.filters["status_label"] = lambda status: gettext(STATUS_LABELS.get(status, status))
    app.jinja_env.filters["hub_status_label"] = lambda state: gettext(HUB_STATUS_LABELS.get(state, HUB_STATUS_UNKNOWN))
    app.jinja_env.filters["stage_label"] = lambda key: gettext(STAGE_LABELS[key])
    app.jinja_env.filters["case_dates"] = case_dates
    app.jinja_env.filters["decision_label"] = lambda decision: gettext(DECISION_LABELS.get(decision, decision))
    app.jinja_env.filters["level_label"] = lambda level: gettext(LEVEL_LABELS.get(level, level))
    app.jinja_env.filters["outcome_label"] = outcome_label


def outcome_label(outcome: str) -> str:
    """What the hub decided on a conflict (a RECONCILED outcome), as a sentence in the page's language."""
    text = gettext(RECONCILED_OUTCOMES.get(outcome, outcome))
    return text[:1].upper() + text[1:]
