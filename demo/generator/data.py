"""Fixed data of the demo district: place names from the seed report, and the word lists the
synthetic names are drawn from. Names of places are data, so they stay in Chinese."""

from __future__ import annotations

import datetime as dt

DISTRICT = "济宁高新区"
JIEZHUANG = "接庄街道"
JIAHE = "泇河街道"
JIEZHUANG_COMMUNITY = "接庄社区"
LONGCHENG_COMMUNITY = "龙城社区"
CAMPUS = "大学园"

# The seed: 25 level-1 grids and 108 level-2 (包保) grids in 接庄街道.
JIEZHUANG_GRID1_COUNT = 25
JIEZHUANG_GRID2_COUNT = 108
SAMPLING_GRID = "接庄社区15网格"
SHOP_PROMOTION_GRID = "龙城一号网格"
# The grid-2 grid whose first household holds the demo resident (must never be empty).
RESIDENT_GRID2 = "15网格-1包保"

CHINESE_NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]

# 泇河街道: communities, their level-1 grids, and the compounds named in the seed with the grid-2
# grid each one sits in and a size weight (the two 阳光 estates are big, the dormitories small).
JIAHE_COMMUNITIES: dict[str, list[str]] = {
    "泇河社区": ["泇河社区1网格", "泇河社区2网格", "泇河社区3网格", "泇河社区4网格"],
    "阳光社区": ["阳光社区1网格", "阳光社区2网格", "阳光社区3网格", "阳光社区4网格"],
}
JIAHE_GRID2_PER_GRID1 = 3
NAMED_ESTATES: dict[str, tuple[str, float]] = {
    "阳光城市花园": ("阳光1网格-1包保", 4.0),
    "阳光盛景园": ("阳光2网格-1包保", 3.0),
    "警韵之家": ("泇河1网格-1包保", 0.6),
    "新世纪广场东侧检察院宿舍": ("泇河2网格-1包保", 0.4),
    "管委会宿舍": ("泇河3网格-1包保", 0.5),
}
CHECKPOINT_ESTATE = "阳光盛景园"

ESTATE_PREFIXES = [
    "金宇", "崇文", "海川", "同济", "杏林", "王因", "黄屯", "柳行", "洸河", "运河", "龙城", "接庄",
    "翰林", "锦绣", "书香", "康桥", "丽景", "和谐", "幸福", "盛世", "东方", "御景", "凤凰", "兴唐",
    "蓝海", "火炬", "宏祥", "颐和", "荷花", "鸿顺", "怡和", "嘉和", "天成", "瑞丰", "北湖", "南池",
]
ESTATE_SUFFIXES = ["花园", "家园", "小区", "华庭", "名苑", "新村", "雅居", "嘉园", "公馆", "苑"]

ROADS = [
    "金宇路", "崇文大道", "海川路", "同济路", "开源路", "杏林路", "康泰路", "火炬路", "蓼河路",
    "王因街", "接庄路", "泇河路", "洸河路", "327国道", "香港路", "济安桥路", "凤凰路", "诗仙路",
]

# Street shops: category value of venues.VenueCategory → weight and name endings.
SHOP_KINDS: dict[str, tuple[float, list[str]]] = {
    "supermarket": (0.22, ["超市", "便利店", "生活超市", "百货"]),
    "restaurant": (0.34, ["快餐", "面馆", "水饺", "煎饼铺", "烧烤", "甏肉干饭", "包子铺", "饭店"]),
    "pharmacy": (0.08, ["大药房", "药店", "医药连锁"]),
    "barber": (0.12, ["理发店", "美发", "发艺", "造型"]),
    "hotel": (0.06, ["宾馆", "快捷酒店", "商务酒店", "旅馆"]),
    "market": (0.02, ["农贸市场", "菜市场"]),
    "other": (0.16, ["五金店", "手机店", "洗衣店", "水果店", "烟酒店", "文具店", "家电维修"]),
}
SHOP_BRANDS = [
    "惠民", "金宇", "老街", "鑫源", "佳佳", "福来", "康宁", "同济", "华联", "万家", "好邻居", "利群",
    "家家乐", "新华", "顺心", "聚福", "老济宁", "运河", "宏达", "盛德", "众和", "百姓", "喜来", "兴隆",
]

# Surnames with rough frequencies (per mille, 2020 census order); the tail shares what is left.
SURNAMES: list[tuple[str, float]] = [
    ("王", 74), ("李", 72), ("张", 69), ("刘", 54), ("陈", 45), ("杨", 33), ("赵", 23), ("黄", 22),
    ("周", 21), ("吴", 20), ("徐", 17), ("孙", 16), ("胡", 13), ("朱", 13), ("高", 13), ("林", 12),
    ("何", 12), ("郭", 12), ("马", 12), ("罗", 9), ("梁", 8), ("宋", 8), ("郑", 8), ("谢", 7),
    ("韩", 7), ("唐", 7), ("冯", 7), ("于", 6), ("董", 6), ("萧", 5), ("程", 5), ("曹", 5),
    ("袁", 5), ("邓", 5), ("许", 5), ("傅", 5), ("沈", 4), ("曾", 4), ("彭", 4), ("吕", 4),
    ("苏", 4), ("卢", 4), ("蒋", 4), ("蔡", 4), ("贾", 4), ("丁", 4), ("魏", 4), ("薛", 3),
    ("叶", 3), ("阎", 3), ("余", 3), ("潘", 3), ("杜", 3), ("戴", 3), ("夏", 3), ("钟", 3),
    ("汪", 3), ("田", 3), ("任", 3), ("姜", 3), ("范", 3), ("方", 3), ("石", 3), ("姚", 3),
    ("谭", 3), ("廖", 2), ("邹", 2), ("熊", 2), ("金", 2), ("陆", 2), ("郝", 2), ("孔", 2),
    ("白", 2), ("崔", 2), ("康", 2), ("毛", 2), ("邱", 2), ("秦", 2), ("江", 2), ("史", 2),
    ("顾", 2), ("侯", 2), ("邵", 2), ("孟", 2), ("龙", 2), ("万", 2), ("段", 2), ("颜", 2),
]
GIVEN_MALE = list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁凯浩宇博文建国志东海峰成龙庆林俊祥瑞振兴")
GIVEN_FEMALE = list("芳娜敏静丽艳娟霞秀英华慧玲红梅琳颖雪婷倩洁晶燕莉萍蕾薇琪欣怡佳悦馨月")
GIVEN_COMMON = list("子嘉一晓思雨天宏永春秋立新云家德金玉")

# Region codes (first six digits). The validator (python-stdnum) knows when each code existed, so
# people born before 1983 carry the codes of the former 济宁地区 (3727xx).
LOCAL_REGIONS: list[tuple[str, float]] = [
    ("370811", 40), ("370812", 6), ("370826", 5), ("370827", 4), ("370828", 6), ("370829", 6),
    ("370830", 6), ("370831", 4), ("370832", 4), ("370881", 6), ("370883", 7),
    ("372701", 30), ("372721", 8), ("372722", 4), ("372725", 4), ("372726", 3), ("372728", 3),
    ("372729", 3), ("372730", 3),
]
FLOATING_REGIONS: list[tuple[str, float]] = [
    ("371302", 6), ("371321", 3), ("370481", 5), ("370402", 3), ("371402", 2), ("370102", 3),
    ("410102", 3), ("320303", 3), ("341302", 3), ("372822", 2), ("372922", 3), ("372925", 3),
    ("340100", 1), ("410100", 1),
]

# Age structure (years, share): roughly Shandong's 2020 census, which is older than the national one.
AGE_BANDS: list[tuple[int, int, float]] = [
    (0, 2, 2.8), (3, 5, 3.4), (6, 11, 7.0), (12, 17, 6.6), (18, 29, 13.5), (30, 39, 15.0),
    (40, 49, 14.0), (50, 59, 16.0), (60, 64, 6.2), (65, 69, 5.6), (70, 74, 4.3), (75, 79, 2.8),
    (80, 89, 2.4), (90, 99, 0.4),
]
# Household sizes and weights; the mean is about 2.6 people (Shandong 2020: 2.64).
HOUSEHOLD_SIZES: list[tuple[int, float]] = [(1, 20), (2, 32), (3, 26), (4, 13), (5, 6), (6, 3)]

# The day of the report: ages and vaccination states are as of then, so a seed always gives the
# same people whatever day the generator runs.
REFERENCE_DATE = dt.date(2022, 4, 20)

DEMO_RESIDENT_PHONE = "13900000001"
# Generated phones never start like this, so the demo phone belongs to one person only.
RESERVED_PHONE_PREFIX = "1390000"
