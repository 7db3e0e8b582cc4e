//! The DomainBed datasets this package knows: folder names, domain order and
//! class lists, used to validate an image folder before trusting it.
//!
//! DomainBed builds every dataset with `MultipleEnvironmentImageFolder`:
//! environments are the *sorted* sub-folder names and classes come from
//! torchvision's `ImageFolder`, which also sorts folder names (Python string
//! order, i.e. by code point: upper case before lower case). The lists below
//! are in that order, so list position = DomainBed's environment index and
//! label. Sources: DomainBed `datasets.py` and `scripts/download.py`
//! (facebookresearch/DomainBed); the paper's test domains are from the
//! authors' fork (see PAPER.md).

/// One DomainBed dataset.
#[derive(Clone, Copy, Debug)]
pub struct DatasetInfo {
    /// DomainBed's class name (`--dataset`).
    pub name: &'static str,
    /// Folder under DomainBed's data root.
    pub folder: &'static str,
    /// Domain folder names in DomainBed environment order.
    pub domains: &'static [&'static str],
    /// Class folder names in label order.
    pub classes: &'static [&'static str],
    /// The paper's fixed test domain.
    pub test_domain: &'static str,
}

impl DatasetInfo {
    /// Environment index of the paper's test domain.
    pub fn test_domain_index(&self) -> usize {
        self.domains
            .iter()
            .position(|d| *d == self.test_domain)
            .unwrap_or(0)
    }
}

pub const PACS: DatasetInfo = DatasetInfo {
    name: "PACS",
    folder: "PACS",
    domains: &["art_painting", "cartoon", "photo", "sketch"],
    classes: &[
        "dog", "elephant", "giraffe", "guitar", "horse", "house", "person",
    ],
    test_domain: "art_painting",
};

pub const VLCS: DatasetInfo = DatasetInfo {
    name: "VLCS",
    folder: "VLCS",
    domains: &["Caltech101", "LabelMe", "SUN09", "VOC2007"],
    classes: &["bird", "car", "chair", "dog", "person"],
    test_domain: "VOC2007",
};

pub const OFFICE_HOME: DatasetInfo = DatasetInfo {
    name: "OfficeHome",
    folder: "office_home",
    domains: &["Art", "Clipart", "Product", "Real World"],
    classes: &OFFICEHOME_CLASSES,
    test_domain: "Art",
};

pub const TERRA_INCOGNITA: DatasetInfo = DatasetInfo {
    name: "TerraIncognita",
    folder: "terra_incognita",
    domains: &["location_100", "location_38", "location_43", "location_46"],
    classes: &[
        "bird", "bobcat", "cat", "coyote", "dog", "empty", "opossum", "rabbit", "raccoon",
        "squirrel",
    ],
    // The paper does not use TerraIncognita; DomainBed's first environment.
    test_domain: "location_100",
};

pub const DOMAIN_NET: DatasetInfo = DatasetInfo {
    name: "DomainNet",
    folder: "domain_net",
    domains: &[
        "clipart",
        "infograph",
        "painting",
        "quickdraw",
        "real",
        "sketch",
    ],
    classes: &DOMAINNET_CLASSES,
    test_domain: "clipart",
};

/// Every known dataset.
pub const ALL: [DatasetInfo; 5] = [PACS, VLCS, OFFICE_HOME, TERRA_INCOGNITA, DOMAIN_NET];

/// Looks a dataset up by DomainBed name (case-insensitive) or folder name.
pub fn dataset_info(name: &str) -> Option<DatasetInfo> {
    ALL.into_iter()
        .find(|d| d.name.eq_ignore_ascii_case(name) || d.folder.eq_ignore_ascii_case(name))
}

#[rustfmt::skip]
pub const OFFICEHOME_CLASSES: [&str; 65] = [
    "Alarm_Clock", "Backpack", "Batteries", "Bed", "Bike", "Bottle", "Bucket", "Calculator",
    "Calendar", "Candles", "Chair", "Clipboards", "Computer", "Couch", "Curtains", "Desk_Lamp",
    "Drill", "Eraser", "Exit_Sign", "Fan", "File_Cabinet", "Flipflops", "Flowers", "Folder",
    "Fork", "Glasses", "Hammer", "Helmet", "Kettle", "Keyboard", "Knives", "Lamp_Shade",
    "Laptop", "Marker", "Monitor", "Mop", "Mouse", "Mug", "Notebook", "Oven", "Pan",
    "Paper_Clip", "Pen", "Pencil", "Postit_Notes", "Printer", "Push_Pin", "Radio",
    "Refrigerator", "Ruler", "Scissors", "Screwdriver", "Shelf", "Sink", "Sneakers", "Soda",
    "Speaker", "Spoon", "TV", "Table", "Telephone", "ToothBrush", "Toys", "Trash_Can", "Webcam",
];

#[rustfmt::skip]
pub const DOMAINNET_CLASSES: [&str; 345] = [
    "The_Eiffel_Tower", "The_Great_Wall_of_China", "The_Mona_Lisa", "aircraft_carrier",
    "airplane", "alarm_clock", "ambulance", "angel", "animal_migration", "ant", "anvil",
    "apple", "arm", "asparagus", "axe", "backpack", "banana", "bandage", "barn", "baseball",
    "baseball_bat", "basket", "basketball", "bat", "bathtub", "beach", "bear", "beard", "bed",
    "bee", "belt", "bench", "bicycle", "binoculars", "bird", "birthday_cake", "blackberry",
    "blueberry", "book", "boomerang", "bottlecap", "bowtie", "bracelet", "brain", "bread",
    "bridge", "broccoli", "broom", "bucket", "bulldozer", "bus", "bush", "butterfly", "cactus",
    "cake", "calculator", "calendar", "camel", "camera", "camouflage", "campfire", "candle",
    "cannon", "canoe", "car", "carrot", "castle", "cat", "ceiling_fan", "cell_phone", "cello",
    "chair", "chandelier", "church", "circle", "clarinet", "clock", "cloud", "coffee_cup",
    "compass", "computer", "cookie", "cooler", "couch", "cow", "crab", "crayon", "crocodile",
    "crown", "cruise_ship", "cup", "diamond", "dishwasher", "diving_board", "dog", "dolphin",
    "donut", "door", "dragon", "dresser", "drill", "drums", "duck", "dumbbell", "ear", "elbow",
    "elephant", "envelope", "eraser", "eye", "eyeglasses", "face", "fan", "feather", "fence",
    "finger", "fire_hydrant", "fireplace", "firetruck", "fish", "flamingo", "flashlight",
    "flip_flops", "floor_lamp", "flower", "flying_saucer", "foot", "fork", "frog", "frying_pan",
    "garden", "garden_hose", "giraffe", "goatee", "golf_club", "grapes", "grass", "guitar",
    "hamburger", "hammer", "hand", "harp", "hat", "headphones", "hedgehog", "helicopter",
    "helmet", "hexagon", "hockey_puck", "hockey_stick", "horse", "hospital", "hot_air_balloon",
    "hot_dog", "hot_tub", "hourglass", "house", "house_plant", "hurricane", "ice_cream",
    "jacket", "jail", "kangaroo", "key", "keyboard", "knee", "knife", "ladder", "lantern",
    "laptop", "leaf", "leg", "light_bulb", "lighter", "lighthouse", "lightning", "line", "lion",
    "lipstick", "lobster", "lollipop", "mailbox", "map", "marker", "matches", "megaphone",
    "mermaid", "microphone", "microwave", "monkey", "moon", "mosquito", "motorbike", "mountain",
    "mouse", "moustache", "mouth", "mug", "mushroom", "nail", "necklace", "nose", "ocean",
    "octagon", "octopus", "onion", "oven", "owl", "paint_can", "paintbrush", "palm_tree",
    "panda", "pants", "paper_clip", "parachute", "parrot", "passport", "peanut", "pear", "peas",
    "pencil", "penguin", "piano", "pickup_truck", "picture_frame", "pig", "pillow", "pineapple",
    "pizza", "pliers", "police_car", "pond", "pool", "popsicle", "postcard", "potato",
    "power_outlet", "purse", "rabbit", "raccoon", "radio", "rain", "rainbow", "rake",
    "remote_control", "rhinoceros", "rifle", "river", "roller_coaster", "rollerskates",
    "sailboat", "sandwich", "saw", "saxophone", "school_bus", "scissors", "scorpion",
    "screwdriver", "sea_turtle", "see_saw", "shark", "sheep", "shoe", "shorts", "shovel",
    "sink", "skateboard", "skull", "skyscraper", "sleeping_bag", "smiley_face", "snail",
    "snake", "snorkel", "snowflake", "snowman", "soccer_ball", "sock", "speedboat", "spider",
    "spoon", "spreadsheet", "square", "squiggle", "squirrel", "stairs", "star", "steak",
    "stereo", "stethoscope", "stitches", "stop_sign", "stove", "strawberry", "streetlight",
    "string_bean", "submarine", "suitcase", "sun", "swan", "sweater", "swing_set", "sword",
    "syringe", "t-shirt", "table", "teapot", "teddy-bear", "telephone", "television",
    "tennis_racquet", "tent", "tiger", "toaster", "toe", "toilet", "tooth", "toothbrush",
    "toothpaste", "tornado", "tractor", "traffic_light", "train", "tree", "triangle",
    "trombone", "truck", "trumpet", "umbrella", "underwear", "van", "vase", "violin",
    "washing_machine", "watermelon", "waterslide", "whale", "wheel", "windmill", "wine_bottle",
    "wine_glass", "wristwatch", "yoga", "zebra", "zigzag",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_in_imagefolder_order_and_sized() {
        for d in ALL {
            let mut s = d.classes.to_vec();
            s.sort_unstable();
            assert_eq!(s, d.classes, "{}", d.name);
            let mut e = d.domains.to_vec();
            e.sort_unstable();
            assert_eq!(e, d.domains, "{}", d.name);
            assert!(d.domains.contains(&d.test_domain));
        }
        assert_eq!(OFFICE_HOME.classes.len(), 65);
        assert_eq!(DOMAIN_NET.classes.len(), 345);
        assert_eq!(PACS.test_domain_index(), 0);
        assert_eq!(
            dataset_info("office_home").map(|d| d.name),
            Some("OfficeHome")
        );
    }
}
