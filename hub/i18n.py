"""The hub pages' Chinese: English message id -> Simplified Chinese."""

from __future__ import annotations

from sync.i18n import Translator

ZH = {
    # layout and login
    "County hub": "县级政务服务中心",
    "County government service hub": "县政务服务中心 · 审批平台",
    "Queue": "待办",
    "Points": "基层窗口",
    "Log in": "登录",
    "Log out": "退出",
    "Username": "用户名",
    "Password": "密码",
    "Wrong username or password. Check both and try again.": "用户名或密码错误，请核对后重试。",
    "This account is locked after too many wrong passwords. Try again after {time}.":
        "密码连续输错次数过多，账号已锁定，请在 {time} 之后再试。",
    # queue
    "Department queue": "部门待办",
    "Open cases": "在办件",
    "Department": "部门",
    "All departments": "全部部门",
    "Show": "查看",
    "Receipt number": "受理编号",
    "Service item": "事项",
    "Point": "受理窗口",
    "Status": "状态",
    "Received": "受理时间",
    "Due date": "办结期限",
    "Nothing is waiting.": "暂无待办件。",
    # case
    "Item code": "事项编码",
    "Promised date": "承诺办结日期",
    "Decision": "审批决定",
    "Certificate number": "证照编号",
    "Applicant": "申请人",
    "Name": "姓名",
    "ID number": "身份证号码",
    "Phone": "联系电话",
    "Form": "申请信息",
    "None": "无",
    "Materials received": "已收材料",
    "Department tasks": "部门审批",
    "Stage": "阶段",
    "Decided by": "审批人",
    "Reason": "理由",
    "Not routed yet: an operator must route this case.": "尚未分送：请窗口管理员处理此件。",
    "Certificate number (when approving)": "证照编号（准予时填写）",
    "Reason (required when rejecting)": "理由（不予批准时必填）",
    "Approve": "准予",
    "Reject": "不予批准",
    "Choose approve or reject.": "请选择“准予”或“不予批准”。",
    "Write the reason for rejecting: the resident will read it. Nothing was saved.":
        "不予批准必须填写理由（申请人将看到此理由）。本次未作任何保存。",
    "Your department has no open task on this case. Nothing was saved.": "本部门在此件上没有待审批的环节。本次未作任何保存。",
    "Timeline": "办理过程",
    "Time": "时间",
    "Who": "办理人",
    "What": "环节",
    "Note": "说明",
    # statuses
    "Accepted": "已接收",
    "Received at the point": "窗口受理",
    "Next stage opened": "进入下一审批阶段",
    "Routed": "已分送",
    "In review": "审批中",
    "Needs attention": "待人工处理",
    "Result issued": "已出件",
    "Delivered to point": "已送达窗口",
    "Closed": "已办结",
    "Waiting": "待前序阶段",
    "Open": "待审批",
    "Approved": "准予",
    "Rejected": "不予批准",
    "Cancelled": "已终止",
    "Pending": "待注册",
    "Active": "已启用",
    "Revoked": "已吊销",
    "Township": "乡镇政务服务中心",
    "Village": "村便民服务站",
    # points
    "Add a point": "新增基层窗口",
    "Point name": "窗口名称",
    "Level": "层级",
    "Create enrollment token": "生成注册码",
    "Enrollment token for {name}. It is shown only once and expires at {expires} (UTC). "
    "Give it to the point's staff for pointkit init.":
        "{name}的注册码仅显示一次，有效期至 {expires}（UTC）。请交给该窗口工作人员用于 pointkit init。",
    "All points": "全部基层窗口",
    "Fingerprint": "密钥指纹",
    "Enrolled": "注册时间",
    "Last contact": "最近联系",
    "No points yet.": "尚无基层窗口。",
    "Times are UTC.": "时间均为 UTC。",
    "Token expires / revoked": "注册码到期 / 吊销时间",
    "Revoke": "吊销",
    "Revoke a point": "吊销基层窗口",
    "Revoke {name}? From now on the hub refuses every envelope and request from this point. Cases it sent "
    "before stay as they are. This cannot be undone: a replacement laptop enrolls under a new name.":
        "确定吊销{name}吗？此后中心将拒绝该窗口发来的一切数据和请求；此前发来的办件保持不变。"
        "吊销不可撤销：替换的电脑须以新名称重新注册。",
    "Yes, revoke this point": "确定吊销",
    "Cancel": "取消",
    "Enter the point's name.": "请填写窗口名称。",
    "Choose township or village.": "请选择乡镇或村级。",
    "A point with this name is already enrolled. Use another name.": "同名窗口已注册，请使用其他名称。",
    # errors
    "Error": "出错",
    "Something went wrong": "出错了",
    "This form has expired or did not come from this page. Go back, reload the page and try again.":
        "表单已失效或并非来自本页面。请返回、刷新页面后重试。",
    "This page does not exist, or it is not open to your department.": "页面不存在，或不对本部门开放。",
    "Your account may not open this page.": "您的账号无权打开此页面。",
    "The hub could not complete this request. Try again; if it keeps failing, tell the administrator.":
        "系统未能完成此操作。请重试；如仍失败，请联系管理员。",
    "Back to the queue": "返回待办",
    # scans
    "Scans": "材料扫描件",
    "Materials in transit": "材料传输中",
    "Some scans are still on their way from the point; read what is there.":
        "部分扫描件仍在从窗口传来，可先阅看已到的材料。",
    "All scans have arrived.": "扫描件已全部到达。",
    "File": "文件",
    "Material": "材料",
    "Size": "大小",
    "View": "查看",
    "In transit": "传输中",
    "Complete": "已到达",
    "Does not match the case": "与案件记录不符",
    "Scan received": "扫描件已到达",
    "Scan does not match": "扫描件不符",
}

translator = Translator(ZH)
