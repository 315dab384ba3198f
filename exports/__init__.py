"""The office's own documents: 附件1–3 as Excel tables and the weekly 工作简报 as Word, and the filled-in 附件1–2
read back to adopt a campaign mid-way.

Above the commands (handlers/), which compute what the documents show, and below the channels that offer them
(the command line and the dashboard).
"""
