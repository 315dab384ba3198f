"""What the WeCom channel itself says to users (the handlers say everything else)."""

GREETING = "您好，我是督办机器人，协助专项整治联络员登记、报送问题整改进展和每周工作信息。"
TEXT_ONLY = "暂时只能处理文字消息，请发送文字（图片、语音、文件等请按牵头部门要求另行报送）。发送「帮助」查看可用指令。"
LATE_FAILURE = "抱歉，系统繁忙，您刚才发送的消息未能处理，请稍后重新发送。"
