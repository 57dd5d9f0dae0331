"""What a person sees: play an env (``play``), watch an agent (``enjoy``), record it (``record``) and
draw what was learned (``plots``). Every viewer sees an env through ``views`` (the env's public
interface) and a model through ``agent``; ``screen`` is the window they share.
"""
